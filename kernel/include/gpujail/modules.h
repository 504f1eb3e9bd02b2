/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel modules on the host (kernel/modules.c), for `gpujail setup`. */
#pragma once

/* Load a module and its dependencies (what `modprobe name` does, without forking).
 * -ENOENT when the module is not known to this kernel; logs why on failure. */
int gj_module_load(const char *name);
