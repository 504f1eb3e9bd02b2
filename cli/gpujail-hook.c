/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail-hook: the OCI hook. Reads the container state on stdin. */
#include "gpujail/util.h"

int main(int argc _unused_, char **argv _unused_) {
        log_set_program("gpujail-hook");
        log_error("not implemented yet");
        return GJ_EXIT_FAILURE;
}
