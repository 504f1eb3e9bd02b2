#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# gpujail-hook SIGKILLed under the real runc, at random moments (20+) and on entering each of
# its state-changing calls: the container is refused and nothing of it is left, or it
# started with all it asked for and no other GPU. The code is test-fault-hook.sh's second
# part (see there, "SIGKILLed"); a script of its own for a per-test timeout of its own.
GJ_HOOK_PARTS="kill" exec bash "$(dirname "$0")/test-fault-hook.sh"
