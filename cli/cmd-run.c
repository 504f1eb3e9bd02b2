/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"
#include "gpujail/util.h"

int cmd_run(int argc _unused_, char **argv _unused_) {
        log_error("'gpujail run' is not implemented yet");
        return GJ_EXIT_FAILURE;
}
