/* SPDX-License-Identifier: Apache-2.0 */
/* The params a job or container sees (gpujail/proc-nvidia.h): ModifyDeviceFiles: 0, the rest kept. */
#include "../tap.h"
#include "gpujail/proc-nvidia.h"
#include "gpujail/util.h"

static void check(const char *in, const char *want, const char *name) {
        _cleanup_free_ char *got = gj_proc_nvidia_params_nomodify(in);
        is_str(got, want, "%s", name);
}

int main(void) {
        check("ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileMode: 438\n",
              "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 0\nDeviceFileMode: 438\n",
              "ModifyDeviceFiles: 1 becomes 0, the other lines stay in their place");
        check("ModifyDeviceFiles: 0\n", "ModifyDeviceFiles: 0\n", "already 0: unchanged");
        check("DeviceFileMode: 438\n", "DeviceFileMode: 438\nModifyDeviceFiles: 0\n",
              "no such line (an old driver): added at the end");
        check("", "ModifyDeviceFiles: 0\n", "empty params: the line alone");
        check("A: 1\nModifyDeviceFiles: 1\nModifyDeviceFiles: 1\nB: 2",
              "A: 1\nModifyDeviceFiles: 0\nB: 2\n",
              "twice: once, and the last line gets its newline");
        check("NotModifyDeviceFiles: 1\n", "NotModifyDeviceFiles: 1\nModifyDeviceFiles: 0\n",
              "a line that only contains the name is not the parameter");
        return done_testing();
}
