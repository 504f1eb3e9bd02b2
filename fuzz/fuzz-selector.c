/* SPDX-License-Identifier: Apache-2.0 */
/* Selector strings (--gpu, NVIDIA_VISIBLE_DEVICES, annotations, CDI names) against a
 * mixed host, then the plan they give: a selection never names a device twice or one
 * that is not in the inventory, and never falls back to "all" on bad input. */
#include "fuzz-common.h"
#include "fuzz-inventory.h"
#include "gpujail/plan.h"
#include "gpujail/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        const struct gj_inventory *inv = fuzz_inventory();
        unsigned flags = data[0] & 1 ? GJ_SELECT_NVIDIA_INDEXES : 0;
        _cleanup_free_ char *spec = fuzz_strndup(data + 1, size - 1);

        struct gj_selection sel = {0};
        if (gj_select(inv, spec, flags, &sel) < 0) {
                gj_selection_done(&sel);
                return 0;
        }
        for (size_t i = 0; i < sel.n_devices; i++) {
                if (sel.devices[i] < inv->devices || sel.devices[i] >= inv->devices + inv->n_devices)
                        abort(); /* not a device of this inventory */
                if (i > 0 && sel.devices[i]->index <= sel.devices[i - 1]->index)
                        abort(); /* unsorted or duplicate */
        }
        if (sel.none && sel.n_devices)
                abort(); /* "none" with devices */
        for (size_t i = 0; i < sel.n_migs; i++)
                if (sel.migs[i] < inv->migs || sel.migs[i] >= inv->migs + inv->n_migs ||
                    (i > 0 && sel.migs[i] <= sel.migs[i - 1]))
                        abort(); /* not this inventory's, unsorted or duplicate */
        for (size_t i = 0; i < sel.n_imex; i++)
                if (sel.imex[i] < inv->imex_channels ||
                    sel.imex[i] >= inv->imex_channels + inv->n_imex_channels)
                        abort();

        struct gj_plan plan = {0};
        struct gj_plan_opts opts = {.allow_mknod = data[0] & 2, .set_cuda_env = data[0] & 4};
        if (gj_plan_build(inv, &sel, &opts, &plan) >= 0) {
                if (plan.n_rules != plan.n_nodes)
                        abort(); /* one allow rule per node */
                for (size_t i = 0; i < plan.n_nodes;
                     i++) /* a caps node only for a chosen MIG device */
                        if (plan.nodes[i].major == 509 && sel.n_migs == 0)
                                abort();
                free(gj_plan_devices_string(&plan));
        }
        gj_plan_done(&plan);
        gj_selection_done(&sel);
        return 0;
}
