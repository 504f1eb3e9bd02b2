/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"
#include "gpujail/util.h"

int cmd_oci(int argc _unused_, char **argv _unused_) {
        log_error("'gpujail oci' is not implemented yet");
        return GJ_EXIT_FAILURE;
}
