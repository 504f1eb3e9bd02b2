/* SPDX-License-Identifier: Apache-2.0 */
/* What this build is: the project's version (GPUJAIL_VERSION, meson.build) and where
 * in git it was built from (common/version.c.in, written by meson's vcs_tag()). */
#pragma once

/* `git describe --always --dirty` of the source tree at build time, or the project
 * version when the tree is not a git checkout (a release tarball, a Debian source). */
const char *gj_version_describe(void);
