#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The image's environment never reaches gpujail-hook's behaviour.
#
# The image sets LD_PRELOAD and LD_LIBRARY_PATH (process.env). runc 1.1 runs a
# hook that has no "env" of its own with the environment it inherited: for
# createContainer that is the container init's, i.e. the image's. So:
#   1. registered as examples/ ship it (own env): the image's LD_PRELOAD is
#      not loaded into the hook, and the container gets its GPU;
#   2. registered without env (the mistake): the loader has run the image's
#      library before main(), which no program can prevent; the hook sees
#      the image's loader variables in its own environment and refuses the
#      container, naming the fix.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook-common.sh"
require_hook_runc

fakehost nvidia8 >/dev/null
node0=$(hostinfo nvidia8 '.devices[0].nodes[0].path')

# A library that records every process it is loaded into.
marker=$TEST_TMP/preload-ran
cat >"$TEST_TMP/evil.c" <<EOF
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void) {
        char exe[256] = "";
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) exe[n] = 0;
        FILE *f = fopen("$marker", "a");
        if (f) { fprintf(f, "%s\n", exe); fclose(f); }
}
EOF
cc -shared -fPIC -o "$TEST_TMP/evil.so" "$TEST_TMP/evil.c" || bail_out "cannot build evil.so"
image_env='.process.env += ["LD_PRELOAD='"$TEST_TMP"'/evil.so", "LD_LIBRARY_PATH='"$TEST_TMP"'"]'

snapshot_host before

for stage in prestart createContainer; do
        rm -f "$marker"
        b=$(hook_bundle "env-$stage" "$image_env" "$(ask_for 0)")
        hook_register "$b" "$stage"
        runc_on_host nvidia8 "gj-env-$$" "$b"
        is "$status" 0 "registered with its own env ($stage): container runs" || show
        like "$output" "^$node0 ENXIO" "registered with its own env ($stage): it got its GPU"
        nok grep -q gpujail-hook "$marker" "registered with its own env ($stage): the image's LD_PRELOAD never loaded into the hook"
done

rm -f "$marker"
# An ASan build's loader check aborts the hook when a library is preloaded
# ahead of the sanitizer, before main() could refuse anything: the image's env
# tells it not to check (a plain build ignores the variable).
asan_env=()
[[ -n ${ASAN_OPTIONS:-} ]] && asan_env=("$(env_of "ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0")")
b=$(hook_bundle env-none "$image_env" "$(ask_for 0)" "${asan_env[@]}")
hook_register "$b" createContainer null
runc_on_host nvidia8 "gj-envnone-$$" "$b"
isnt "$status" 0 "registered without env: the container does not start" || show
if grep -q "ASan runtime does not come first" <<<"$output"; then
        skip "ASan build: the sanitizer aborts before the preloaded library or main() run" \
                "registered without env (createContainer): runc hands the hook the image's environment"
        skip "ASan build: the sanitizer aborts before main()" \
                "registered without env: the hook refuses the container because the image's LD_PRELOAD reached it"
else
        ok grep -q gpujail-hook "$marker" "registered without env (createContainer): runc hands the hook the image's environment (the hazard is real)"
        # Why it refused, not only that runc failed: without this refusal the
        # hook fails all the same, later, for want of the simulated GPU.
        like "$output" "exit status 125, .*gpujail-hook: the container's LD_PRELOAD reached the hook: register gpujail-hook with its own" \
                "registered without env: the hook refuses the container because the image's LD_PRELOAD reached it, and says how to register it" || show
fi

# Without the loader variables, a hook registered without env still acts only
# on config.json: PATH, HOME and the like from the image change nothing.
b=$(hook_bundle env-path '.process.env += ["PATH=/nonexistent", "GPUJAIL_DEBUG=1"]' "$(ask_for 0)")
hook_register "$b" createContainer '["PATH=/nonexistent"]'
runc_on_host nvidia8 "gj-envpath-$$" "$b"
is "$status" 0 "hook env PATH=/nonexistent: container runs" || show
like "$output" "^$node0 ENXIO" "hook env PATH=/nonexistent: GPU given all the same"

assert_host_unchanged before "host unchanged"
done_testing
