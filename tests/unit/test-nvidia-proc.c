/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parsers of /proc/driver/nvidia and /proc/devices: real samples and bad ones. */
#include "gpujail/inventory.h"
#include "gpujail/util.h"
#include "../tap.h"

/* A real information file (driver 550, H100 SXM), tabs as the driver writes them. */
static const char info_550[] =
        "Model: \t\t NVIDIA H100 80GB HBM3\n"
        "IRQ:   \t\t 152\n"
        "GPU UUID: \t GPU-5b3b0a3b-7e3b-b8b8-0e44-7d0d0d3f2a11\n"
        "Video BIOS: \t 96.00.99.00.01\n"
        "Bus Type: \t PCIe\n"
        "DMA Size: \t 52 bits\n"
        "DMA Mask: \t 0xfffffffffffff\n"
        "Bus Location: \t 0000:3b:00.0\n"
        "Device Minor: \t 3\n"
        "GPU Firmware: \t 550.54.15\n"
        "GPU Excluded:\t No\n";

/* Driver 470 (no GPU Firmware line, "Excluded" present). */
static const char info_470[] =
        "Model: \t\t Tesla V100-SXM2-16GB\n"
        "IRQ:   \t\t 45\n"
        "GPU UUID: \t GPU-0e1f6b6a-2e2c-1b53-53b6-7aa1a87a3d09\n"
        "Video BIOS: \t 88.00.4f.00.09\n"
        "Bus Type: \t PCIe\n"
        "DMA Size: \t 47 bits\n"
        "DMA Mask: \t 0x7fffffffffff\n"
        "Bus Location: \t 0000:00:1e.0\n"
        "Device Minor: \t 0\n"
        "GPU Excluded:\t No\n";

static void test_info(void) {
        struct gj_nvidia_info i;

        is_int(gj_nvidia_info_parse(info_550, &i), 0, "550 sample parses");
        is_str(i.model, "NVIDIA H100 80GB HBM3", "550: model");
        is_str(i.uuid, "GPU-5b3b0a3b-7e3b-b8b8-0e44-7d0d0d3f2a11", "550: UUID");
        is_str(i.bus_location, "0000:3b:00.0", "550: bus location");
        is_int(i.minor, 3, "550: minor");
        gj_nvidia_info_done(&i);

        is_int(gj_nvidia_info_parse(info_470, &i), 0, "470 sample parses");
        is_str(i.model, "Tesla V100-SXM2-16GB", "470: model");
        is_int(i.minor, 0, "470: minor 0 is a minor");
        gj_nvidia_info_done(&i);

        /* Truncated after 60 bytes: no Device Minor; the cut UUID line is not believed. */
        char cut[61];
        memcpy(cut, info_550, 60);
        cut[60] = 0;
        is_int(gj_nvidia_info_parse(cut, &i), -EBADMSG, "truncated: -EBADMSG");
        is_str(i.model, "NVIDIA H100 80GB HBM3", "truncated: the complete Model line is kept");
        ok(i.uuid == NULL, "truncated: the partial UUID line is ignored");
        is_int(i.minor, -1, "truncated: minor unknown");
        gj_nvidia_info_done(&i);

        /* Cut in the middle of the Device Minor line: "Device Minor: \t 1" of "12". */
        const char *p = strstr(info_550, "Device Minor:");
        _cleanup_free_ char *mid = strndup(info_550, (size_t)(p - info_550) + 17);
        is_int(gj_nvidia_info_parse(mid, &i), -EBADMSG, "cut inside Device Minor: not trusted");
        gj_nvidia_info_done(&i);

        static const char *const bad_minors[] = {
                "Device Minor: \t two\n", "Device Minor: \t -1\n", "Device Minor: \t 254\n",
                "Device Minor: \t 255\n", "Device Minor: \t 99999999999999999999\n",
                "Device Minor: \t 3x\n", "Device Minor:\n", "Device Minor: \t +3\n",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad_minors); k++) {
                is_int(gj_nvidia_info_parse(bad_minors[k], &i), -EBADMSG, "malformed minor %zu rejected", k);
                is_int(i.minor, -1, "malformed minor %zu: minor stays unknown", k);
                gj_nvidia_info_done(&i);
        }

        is_int(gj_nvidia_info_parse("", &i), -EBADMSG, "empty: -EBADMSG");
        ok(!i.model && !i.uuid && !i.bus_location, "empty: nothing found");
        gj_nvidia_info_done(&i);

        is_int(gj_nvidia_info_parse("Model NVIDIA\nno colons at all\n\n\n", &i), -EBADMSG,
               "garbage without colons: -EBADMSG");
        gj_nvidia_info_done(&i);

        is_int(gj_nvidia_info_parse("Device Minor: 7\nDevice Minor: 1\n", &i), 0, "duplicate minor parses");
        is_int(i.minor, 7, "duplicate minor: the first one counts");
        gj_nvidia_info_done(&i);

        is_int(gj_nvidia_info_parse("GPU UUID: GPU-../../etc\nModel: a\x01" "b\nDevice Minor: 1\n", &i), 0,
               "hostile fields: parses");
        ok(i.uuid == NULL, "a UUID with non-hex characters is dropped");
        ok(i.model == NULL, "a model with control characters is dropped");
        gj_nvidia_info_done(&i);

        is_int(gj_nvidia_info_parse("Device Minor: 5\r\nModel:   spaced  out  \r\n", &i), 0, "CRLF parses");
        is_int(i.minor, 5, "CRLF: minor");
        is_str(i.model, "spaced  out", "CRLF: model trimmed, inner spaces kept");
        gj_nvidia_info_done(&i);

        /* Huge: a megabyte of one line, then the real content. */
        size_t big = 1024 * 1024;
        _cleanup_free_ char *huge = malloc(big + sizeof(info_550));
        memset(huge, 'A', big);
        huge[big - 1] = '\n';
        memcpy(huge + big, info_550, sizeof(info_550));
        is_int(gj_nvidia_info_parse(huge, &i), 0, "huge: parses");
        is_int(i.minor, 3, "huge: minor found after 1 MiB of noise");
        gj_nvidia_info_done(&i);
}

static const char proc_devices_550[] =
        "Character devices:\n"
        "  1 mem\n"
        "  4 /dev/vc/0\n"
        "195 nvidia\n"
        "226 drm\n"
        "508 kfd\n"
        "509 nvidia-caps\n"
        "510 nvidia-uvm\n"
        "\n"
        "Block devices:\n"
        "  7 loop\n"
        "259 blkext\n"
        "511 nvidia-uvm\n";

static void test_proc_devices(void) {
        unsigned m = 0;

        is_int(gj_proc_devices_find_char(proc_devices_550, "nvidia", &m), 0, "nvidia found");
        is_int(m, 195, "nvidia is 195");
        is_int(gj_proc_devices_find_char(proc_devices_550, "nvidia-uvm", &m), 0, "nvidia-uvm found");
        is_int(m, 510, "nvidia-uvm: the char major, not the block line's");
        is_int(gj_proc_devices_find_char(proc_devices_550, "nvidia-frontend", &m), -ENOENT,
               "nvidia-frontend absent on 550");
        is_int(gj_proc_devices_find_char(proc_devices_550, "nvidia-uv", &m), -ENOENT, "no prefix match");
        is_int(gj_proc_devices_find_char(proc_devices_550, "loop", &m), -ENOENT, "block devices are not char");
        is_int(gj_proc_devices_find_char("Character devices:\n195 nvidia-frontend\n", "nvidia-frontend", &m), 0,
               "pre-550 name found");
        is_int(gj_proc_devices_find_char("195 nvidia\n", "nvidia", &m), -ENOENT, "no section header: nothing");
        is_int(gj_proc_devices_find_char("Character devices:\n195 nvid", "nvidia", &m), -ENOENT, "truncated line");
        is_int(gj_proc_devices_find_char("Character devices:\n99999999999 nvidia\n", "nvidia", &m), -ENOENT,
               "absurd major rejected");
        is_int(gj_proc_devices_find_char("", "nvidia", &m), -ENOENT, "empty");
}

static void test_params(void) {
        mode_t mode = 0666;
        uid_t uid = 0;
        gid_t gid = 0;

        gj_nvidia_params_parse("ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileUID: 0\n"
                               "DeviceFileGID: 44\nDeviceFileMode: 432\nEnableMSI: 1\n",
                               &mode, &uid, &gid);
        is_int(mode, 0660, "params: mode 432 = 0660");
        is_int(gid, 44, "params: gid");
        is_int(uid, 0, "params: uid");

        mode = 0666, uid = 0, gid = 0;
        gj_nvidia_params_parse("DeviceFileMode: 99999\nDeviceFileUID: x\nDeviceFileGID: -1\n", &mode, &uid, &gid);
        ok(mode == 0666 && uid == 0 && gid == 0, "params: bad values keep the defaults");
        gj_nvidia_params_parse("", &mode, &uid, &gid);
        ok(mode == 0666, "params: empty keeps the defaults");
        gj_nvidia_params_parse("DeviceFileMode: 420", &mode, &uid, &gid);
        ok(mode == 0666, "params: a last line without newline (truncated) is not believed");
}

static void test_version(void) {
        char *v = NULL;

        is_int(gj_nvidia_version_parse("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  "
                                       "Release Build  (dvs-builder@U16-I3-B03-4-3)  Tue Mar  5 19:58:46 UTC 2024\n"
                                       "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
                                       &v),
               0, "open module version parses");
        is_str(v, "550.54.15", "open module: 550.54.15");
        free(v), v = NULL;
        is_int(gj_nvidia_version_parse("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  "
                                       "Thu May  2 14:37:44 UTC 2024\n",
                                       &v),
               0, "proprietary module version parses");
        is_str(v, "470.256.02", "proprietary: 470.256.02");
        free(v), v = NULL;
        is_int(gj_nvidia_version_parse("NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.104.05\n", &v), 0,
               "aarch64 parses");
        is_str(v, "535.104.05", "aarch64: 535.104.05");
        free(v), v = NULL;
        is_int(gj_nvidia_version_parse("garbage\n", &v), -EBADMSG, "garbage: -EBADMSG");
        is_int(gj_nvidia_version_parse("NVRM version: no numbers here\n", &v), -EBADMSG, "no version: -EBADMSG");
        is_int(gj_nvidia_version_parse("", &v), -EBADMSG, "empty: -EBADMSG");
}

static void test_names(void) {
        for (int v = 0; v < _GJ_VENDOR_MAX; v++)
                is_int(gj_vendor_from_name(gj_vendor_name(v)), v, "vendor %s round-trips", gj_vendor_name(v));
        is_int(gj_vendor_from_name("matrox"), -EINVAL, "unknown vendor: -EINVAL");
        for (int c = 0; c < _GJ_CTL_MAX; c++)
                is_int(gj_control_from_name(gj_control_name(c)), c, "control %s round-trips", gj_control_name(c));
        for (int s = GJ_NODE_OK; s <= GJ_NODE_UNCHECKED; s++)
                is_int(gj_node_state_from_name(gj_node_state_name(s)), s, "state %s round-trips",
                       gj_node_state_name(s));
        is_str(gj_node_state_name(GJ_NODE_WRONG_DEVNUM), "wrong_devnum", "wrong_devnum's name is stable");
}

int main(void) {
        test_info();
        test_proc_devices();
        test_params();
        test_version();
        test_names();
        return done_testing();
}
