/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Selector strings -> a set of inventory devices. Pure code: no syscalls.
 *
 * This is a security boundary: whatever a user, a scheduler or a container
 * image writes here decides which devices a job may open. So every item must
 * match something exactly; an item that matches nothing, or more than one
 * thing where one was meant, is an error, and nothing here ever widens a
 * selection by fallback.
 *
 * Forms (comma-separated, spaces around items ignored):
 *   ""/"void"        nothing at all, not even control nodes (NVIDIA's "void")
 *   "none"           no device, but the NVIDIA control nodes (NVIDIA's "none")
 *   "all"            every device (every NVIDIA GPU with GJ_SELECT_NVIDIA_INDEXES)
 *   "3"              inventory index (NVIDIA index with GJ_SELECT_NVIDIA_INDEXES)
 *   "nvidia:1"       vendor-qualified index; "nvidia:all" every device of a vendor
 *   "GPU-<uuid>"     UUID, case-insensitive; a unique prefix of at least
 *                    "GPU-" + 8 hex digits is accepted (libnvidia-container takes
 *                    any prefix and its first match; we want exactly one)
 *   "0000:3b:00.0"   PCI bus id; "3b:00.0" implies domain 0; nvidia-smi's
 *                    "00000000:3B:00.0" works too; hex is case-insensitive
 *   "MIG-<uuid>"     a MIG device (UUIDs come from NVML); unique prefix as for GPU-
 *   "0:1"            MIG device 1 of NVIDIA GPU 0: NVIDIA's "<gpu>:<mig>" form
 *                    (libnvidia-container, NVIDIA_VISIBLE_DEVICES, the toolkit's CDI
 *                    names), both counted as NVML counts them
 *   "0:3:0"          the MIG device of NVIDIA GPU 0 with GPU instance 3, compute
 *                    instance 0: ids that nvidia-smi and /proc show and that do not
 *                    depend on enumeration order (gpujail's own form)
 *   "imex:2"         IMEX channel 2; "imex:all" every channel the host has
 * "none" and "void" must stand alone. "all" with anything else is just "all".
 *
 * The chosen[] array has one slot per device, then one per MIG device (inv->migs), then
 * one per IMEX channel (inv->imex_channels).
 */
#include <ctype.h>

#include "gpujail/plan.h"
#include "gpujail/util.h"

/* Shortest UUID prefix we accept after "GPU-": the UUID's first group. Shorter
 * prefixes are too easy to match by accident. */
#define UUID_PREFIX_MIN 8

/* An item as it may appear in a message: selectors can come from a container
 * image's environment, so no control characters reach the log, and no
 * unbounded length. */
static const char *item_for_log(const char *item, char buf[static 80]) {
        size_t i = 0;
        for (; item[i] && i < 64; i++)
                buf[i] = item[i] >= 0x20 && item[i] < 0x7f ? item[i] : '?'; /* ASCII, any locale */
        if (item[i])
                buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
        buf[i] = 0;
        return buf;
}

/* ---- messages ---- */

/* "0-3,5,7-8" from an ascending list. */
static void append_ranges(struct strbuf *b, const unsigned *v, size_t n) {
        for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j + 1 < n && v[j + 1] == v[j] + 1)
                        j++;
                strbuf_printf(b, "%s%u", i > 0 ? "," : "", v[i]);
                if (j > i)
                        strbuf_printf(b, "-%u", v[j]);
                i = j + 1;
        }
}

/* What a user could have written instead: "0-9 (nvidia:0-7, amd:0, accel:0)",
 * or in NVIDIA mode "0-7 (nvidia:0-7)" with bare numbers counting NVIDIA GPUs. */
static char *describe_host(const struct gj_inventory *inv, unsigned flags) {
        _cleanup_strbuf_ struct strbuf b = {};
        _cleanup_free_ unsigned *v = calloc(inv->n_devices + 1, sizeof(unsigned));
        size_t n = 0;
        bool nvidia_only = flags & GJ_SELECT_NVIDIA_INDEXES;

        if (!v)
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (!nvidia_only || inv->devices[i].vendor == GJ_VENDOR_NVIDIA)
                        v[n++] = nvidia_only ? inv->devices[i].vendor_index : inv->devices[i].index;
        if (n == 0) {
                strbuf_printf(&b, nvidia_only ? "no NVIDIA GPUs" : "no accelerators");
                if (nvidia_only && inv->n_devices > 0)
                        strbuf_printf(&b, " (other accelerators are named vendor:N)");
                return strbuf_steal(&b);
        }
        append_ranges(&b, v, n);
        strbuf_printf(&b, " (");
        bool first = true;
        for (int vendor = 0; vendor < _GJ_VENDOR_MAX; vendor++) {
                size_t k = 0;
                for (size_t i = 0; i < inv->n_devices; i++)
                        if ((int)inv->devices[i].vendor == vendor)
                                v[k++] = inv->devices[i].vendor_index;
                if (k == 0)
                        continue;
                strbuf_printf(&b, "%s%s:", first ? "" : ", ",
                              gj_vendor_name((enum gj_vendor)vendor));
                append_ranges(&b, v, k);
                first = false;
        }
        strbuf_printf(&b, ")");
        return strbuf_steal(&b);
}

static int fail_unknown(const struct gj_inventory *inv, unsigned flags, const char *item,
                        const char *why) {
        _cleanup_free_ char *host = describe_host(inv, flags);
        char buf[80];
        return log_error_errno(-ENODEV, "unknown GPU '%s'%s%s: this host has %s",
                               item_for_log(item, buf), why ? ": " : "", why ? why : "",
                               host ? host : "(out of memory)");
}

/* ---- MIG devices and IMEX channels ---- */

static bool uuid_has_prefix(const char *uuid, const char *prefix);

static bool *mig_slot(const struct gj_inventory *inv, bool *chosen, size_t k) {
        return &chosen[inv->n_devices + k];
}

static bool *imex_slot(const struct gj_inventory *inv, bool *chosen, size_t k) {
        return &chosen[inv->n_devices + inv->n_migs + k];
}

/* Every MIG device of a chosen NVIDIA GPU: what NVIDIA's "all" gives. */
static void choose_migs_of_chosen(const struct gj_inventory *inv, bool *chosen) {
        for (size_t k = 0; k < inv->n_migs; k++)
                if (chosen[inv->migs[k].parent])
                        *mig_slot(inv, chosen, k) = true;
}

static const struct gj_device *nvidia_gpu(const struct gj_inventory *inv, unsigned idx) {
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].vendor == GJ_VENDOR_NVIDIA &&
                    inv->devices[i].vendor_index == idx)
                        return &inv->devices[i];
        return NULL;
}

/* No such MIG device on d: say which it has ("0:0 (GI 1, CI 0), 0:1 (GI 2, CI 0)"). */
static int fail_no_mig(const struct gj_inventory *inv, const struct gj_device *d,
                       const char *item) {
        _cleanup_strbuf_ struct strbuf b = {};
        char buf[80];

        if (d->n_migs == 0)
                return log_error_errno(
                        -ENODEV, "unknown MIG device '%s': GPU %u %s", item_for_log(item, buf),
                        d->vendor_index,
                        d->mig_mode == GJ_MIG_ENABLED
                                ? "is in MIG mode but has no MIG devices (create them with "
                                  "'nvidia-smi mig -cgi PROFILES -C')"
                                : "has no MIG devices (MIG mode is off, or unknown without NVML)");
        for (size_t k = 0; k < d->n_migs; k++) {
                const struct gj_mig *m = &inv->migs[d->first_mig + k];
                strbuf_printf(&b, "%s%u:%u (GI %u, CI %u)", k ? ", " : "", d->vendor_index,
                              m->index, m->gi, m->ci);
        }
        return log_error_errno(-ENODEV, "unknown MIG device '%s': GPU %u has %s",
                               item_for_log(item, buf), d->vendor_index,
                               strbuf_str(&b) ?: "(out of memory)");
}

/* "N:M" or "N:GI:CI": two or three decimal fields of at most 9 digits. Returns the count, or 0. */
static size_t parse_mig_index(const char *item, unsigned v[static 3]) {
        size_t n = 0;
        for (const char *p = item;; p++) {
                size_t len = strspn(p, "0123456789");
                char num[10];
                if (n == 3 || len == 0 || len >= sizeof(num) || (p[len] != ':' && p[len] != 0))
                        return 0;
                memcpy(num, p, len);
                num[len] = 0;
                if (safe_atou(num, &v[n++]) < 0)
                        return 0;
                p += len;
                if (!*p)
                        return n >= 2 ? n : 0;
        }
}

/* 0 when item is not of that form, 1 when chosen, < 0 on error. */
static int select_mig_by_index(const struct gj_inventory *inv, unsigned flags, const char *item,
                               bool *chosen) {
        unsigned v[3];
        size_t n = parse_mig_index(item, v);

        if (n == 0)
                return 0;
        const struct gj_device *d = nvidia_gpu(inv, v[0]);
        if (!d)
                return fail_unknown(inv, flags | GJ_SELECT_NVIDIA_INDEXES, item,
                                    "no NVIDIA GPU with that index");
        for (size_t k = 0; k < d->n_migs; k++) {
                const struct gj_mig *m = &inv->migs[d->first_mig + k];
                if (n == 2 ? m->index == v[1] : m->gi == v[1] && m->ci == v[2]) {
                        *mig_slot(inv, chosen, d->first_mig + k) = true;
                        return 1;
                }
        }
        return fail_no_mig(inv, d, item);
}

static int select_mig_by_uuid(const struct gj_inventory *inv, unsigned flags, const char *item,
                              bool *chosen) {
        char buf[80];
        ssize_t found = -1;
        size_t n_found = 0;

        for (size_t k = 0; k < inv->n_migs; k++)
                if (inv->migs[k].uuid && strcasecmp(inv->migs[k].uuid, item) == 0) {
                        *mig_slot(inv, chosen, k) = true;
                        return 0;
                }
        if (strlen(item) < strlen("MIG-") + UUID_PREFIX_MIN)
                return fail_unknown(inv, flags, item,
                                    "a UUID prefix needs at least 8 hex digits after 'MIG-'");
        for (size_t k = 0; k < inv->n_migs; k++)
                if (uuid_has_prefix(inv->migs[k].uuid, item)) {
                        found = (ssize_t)k;
                        n_found++;
                }
        if (n_found == 1) {
                *mig_slot(inv, chosen, (size_t)found) = true;
                return 0;
        }
        if (n_found > 1)
                return log_error_errno(-ENODEV,
                                       "ambiguous MIG device '%s': it is a prefix of %zu MIG UUIDs",
                                       item_for_log(item, buf), n_found);
        return fail_unknown(
                inv, flags, item,
                inv->nvml
                        ? "no MIG device has this UUID (see 'gpujail list')"
                        : "MIG UUIDs are known only through NVML (libnvidia-ml.so.1), which "
                          "this host lacks: name it as GPU:MIG or GPU:GI:CI (see 'gpujail list')");
}

/* "imex:N" / "imex:all". 0 when item is not of that form, 1 when chosen, < 0. */
static int select_imex(const struct gj_inventory *inv, const char *item, bool *chosen) {
        const char *rest = startswith(item, "imex:");
        char buf[80];
        unsigned n;

        if (!rest)
                return 0;
        if (streq(rest, "all")) {
                if (inv->n_imex_channels == 0)
                        return log_error_errno(-ENODEV,
                                               "'imex:all': this host has no IMEX channel nodes "
                                               "(/dev/nvidia-caps-imex-channels/channelN)");
                for (size_t k = 0; k < inv->n_imex_channels; k++)
                        *imex_slot(inv, chosen, k) = true;
                return 1;
        }
        if (gj_nvidia_numbered_name(rest, "", &n) < 0)
                return log_error_errno(-EINVAL,
                                       "invalid IMEX channel '%s': expected imex:N or imex:all",
                                       item_for_log(item, buf));
        for (size_t k = 0; k < inv->n_imex_channels; k++)
                if (inv->imex_channels[k].minor == n) {
                        *imex_slot(inv, chosen, k) = true;
                        return 1;
                }
        return log_error_errno(
                -ENODEV,
                "unknown IMEX channel '%s': this host has %zu IMEX channel node(s) in "
                "/dev/nvidia-caps-imex-channels (create one with 'nvidia-modprobe -i %u')",
                item_for_log(item, buf), inv->n_imex_channels, n);
}

/* ---- parsing one item ---- */

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Exactly n hex digits at *p (n_max for a variable-width field), advancing *p. */
static int parse_hex_field(const char **p, size_t n_min, size_t n_max, unsigned *ret) {
        unsigned v = 0;
        size_t n = 0;
        for (; n < n_max && hexval((*p)[n]) >= 0; n++)
                v = v * 16 + (unsigned)hexval((*p)[n]);
        if (n < n_min || hexval((*p)[n]) >= 0)
                return -EINVAL;
        *p += n;
        *ret = v;
        return 0;
}

/* PCI bus id "[dddd[dddd]:]bb:dd.f" -> numbers, strictly: nothing before or after. */
struct pci_addr {
        unsigned domain, bus, dev, fn;
};

static int pci_addr_parse(const char *s, struct pci_addr *ret) {
        struct pci_addr a = {};
        const char *p = s;
        unsigned first;

        /* The first field is either the domain (4 or 8 digits) or the bus (2). */
        if (parse_hex_field(&p, 2, 8, &first) < 0 || *p != ':')
                return -EINVAL;
        size_t width = (size_t)(p - s);
        p++;
        if (width == 4 || width == 8) {
                a.domain = first;
                if (parse_hex_field(&p, 2, 2, &a.bus) < 0 || *p != ':')
                        return -EINVAL;
                p++;
        } else if (width == 2)
                a.bus = first;
        else
                return -EINVAL;
        if (parse_hex_field(&p, 2, 2, &a.dev) < 0 || *p != '.')
                return -EINVAL;
        p++;
        if (parse_hex_field(&p, 1, 1, &a.fn) < 0 || *p)
                return -EINVAL;
        if (a.dev > 0x1f || a.fn > 7)
                return -EINVAL;
        *ret = a;
        return 0;
}

static bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b) {
        return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev && a->fn == b->fn;
}

static int select_by_pci(const struct gj_inventory *inv, unsigned flags, const char *item,
                         const struct pci_addr *want, bool *chosen) {
        for (size_t i = 0; i < inv->n_devices; i++) {
                struct pci_addr have;
                if (!inv->devices[i].pci_bus_id || pci_addr_parse(inv->devices[i].pci_bus_id, &have) < 0)
                        continue;
                if (pci_addr_eq(&have, want)) {
                        chosen[i] = true;
                        return 0;
                }
        }
        return fail_unknown(inv, flags, item, "no device at that PCI address");
}

static bool uuid_has_prefix(const char *uuid, const char *prefix) {
        return uuid && strncasecmp(uuid, prefix, strlen(prefix)) == 0;
}

static int select_by_uuid(const struct gj_inventory *inv, unsigned flags, const char *item,
                          bool *chosen) {
        char buf[80];
        ssize_t found = -1;
        size_t n_found = 0;

        /* An exact match wins even where it is also a prefix of another UUID. */
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].uuid && strcasecmp(inv->devices[i].uuid, item) == 0) {
                        chosen[i] = true;
                        return 0;
                }

        if (strlen(item) < strlen("GPU-") + UUID_PREFIX_MIN)
                return fail_unknown(inv, flags, item,
                                    "a UUID prefix needs at least 8 hex digits after 'GPU-'");

        for (size_t i = 0; i < inv->n_devices; i++)
                if (uuid_has_prefix(inv->devices[i].uuid, item)) {
                        found = (ssize_t)i;
                        n_found++;
                }
        if (n_found == 0)
                return fail_unknown(inv, flags, item, "no device has this UUID (see 'gpujail list')");
        if (n_found > 1) {
                _cleanup_strbuf_ struct strbuf b = {};
                for (size_t i = 0; i < inv->n_devices; i++)
                        if (uuid_has_prefix(inv->devices[i].uuid, item))
                                strbuf_printf(&b, "%s%u (%s)", b.len ? ", " : "",
                                              inv->devices[i].index, inv->devices[i].uuid);
                return log_error_errno(-ENODEV,
                                       "ambiguous GPU '%s': it is a prefix of the UUIDs of %s",
                                       item_for_log(item, buf), strbuf_str(&b) ?: "(out of memory)");
        }
        chosen[found] = true;
        return 0;
}

/* "nvidia:1", "amd:all". Returns 0 if item is not vendor-qualified (so the
 * caller tries other forms), 1 when handled, < 0 on error. */
static int select_by_vendor(const struct gj_inventory *inv, unsigned flags, const char *item,
                            bool *chosen) {
        const char *colon = strchr(item, ':');
        if (!colon || colon == item || colon - item > 16)
                return 0;

        char name[17];
        memcpy(name, item, (size_t)(colon - item));
        name[colon - item] = 0;
        int vendor = gj_vendor_from_name(name);
        if (vendor < 0)
                return 0;

        const char *rest = colon + 1;
        bool all = streq(rest, "all");
        unsigned idx = 0;
        if (!all && (!isdigit((unsigned char)*rest) || safe_atou(rest, &idx) < 0))
                return fail_unknown(inv, flags, item, "expected vendor:N or vendor:all");

        bool any = false;
        for (size_t i = 0; i < inv->n_devices; i++)
                if ((int)inv->devices[i].vendor == vendor && (all || inv->devices[i].vendor_index == idx)) {
                        chosen[i] = true;
                        any = true;
                }
        if (!any)
                return fail_unknown(inv, flags, item, NULL);
        if (all)
                choose_migs_of_chosen(inv, chosen);
        return 1;
}

static int select_by_index(const struct gj_inventory *inv, unsigned flags, const char *item,
                           bool *chosen) {
        unsigned idx;
        if (safe_atou(item, &idx) < 0)
                return fail_unknown(inv, flags, item, "not a valid index");

        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                bool hit = flags & GJ_SELECT_NVIDIA_INDEXES
                                   ? d->vendor == GJ_VENDOR_NVIDIA && d->vendor_index == idx
                                   : d->index == idx;
                if (hit) {
                        chosen[i] = true;
                        return 0;
                }
        }
        return fail_unknown(inv, flags, item, NULL);
}

static int select_all(const struct gj_inventory *inv, unsigned flags, bool *chosen) {
        bool any = false;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (!(flags & GJ_SELECT_NVIDIA_INDEXES) || inv->devices[i].vendor == GJ_VENDOR_NVIDIA) {
                        chosen[i] = true;
                        any = true;
                }
        /* Asking for every GPU of a host that has none is a mistake worth stopping
         * for: the job would start without the GPU it expects. */
        if (!any)
                return fail_unknown(inv, flags, "all", NULL);
        choose_migs_of_chosen(inv, chosen);
        return 0;
}

static int select_item(const struct gj_inventory *inv, unsigned flags, const char *item,
                       bool *chosen) {
        struct pci_addr pci;
        int r;

        if (streq(item, "all"))
                return select_all(inv, flags, chosen);
        if (isdigit((unsigned char)item[0]) && !strchr(item, ':'))
                return select_by_index(inv, flags, item, chosen);
        if (strncasecmp(item, "GPU-", 4) == 0)
                return select_by_uuid(inv, flags, item, chosen);
        if (strncasecmp(item, "MIG-", 4) == 0)
                return select_mig_by_uuid(inv, flags, item, chosen);
        r = select_mig_by_index(inv, flags, item, chosen);
        if (r == 0)
                r = select_imex(inv, item, chosen);
        if (r != 0)
                return r < 0 ? r : 0;
        r = select_by_vendor(inv, flags, item, chosen);
        if (r != 0)
                return r < 0 ? r : 0;
        if (pci_addr_parse(item, &pci) >= 0)
                return select_by_pci(inv, flags, item, &pci, chosen);
        return fail_unknown(
                inv, flags, item,
                "expected N, all, none, void, GPU-<uuid>, a PCI bus id, vendor:N, MIG-<uuid>, "
                "GPU:MIG, GPU:GI:CI or imex:N");
}

/* ---- the list ---- */

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = 0;
        return s;
}

static bool is_blank(const char *s) {
        for (; *s; s++)
                if (*s != ' ' && *s != '\t')
                        return false;
        return true;
}

static int cmp_device_index(const void *a, const void *b) {
        const struct gj_device *x = *(const struct gj_device *const *)a;
        const struct gj_device *y = *(const struct gj_device *const *)b;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* A GPU in MIG mode named as a whole GPU: NVIDIA gives its node and no MIG device, and
 * CUDA then finds nothing to run on. Given as asked, with a word about it. */
static void notice_whole_mig_gpus(const struct gj_inventory *inv, const bool *chosen) {
        for (size_t i = 0; i < inv->n_devices; i++) {
                const struct gj_device *d = &inv->devices[i];
                bool any_mig = false;
                for (size_t k = 0; k < d->n_migs; k++)
                        any_mig = any_mig || chosen[inv->n_devices + d->first_mig + k];
                if (chosen[i] && d->mig_mode == GJ_MIG_ENABLED && !any_mig)
                        log_warning(
                                "GPU %u (%s) is in MIG mode: as a whole GPU it comes without its MIG "
                                "devices, and CUDA will not see it; ask for its MIG devices (%u:N, "
                                "see 'gpujail list')",
                                d->vendor_index, d->pci_bus_id ?: "-", d->vendor_index);
        }
}

/* The chosen MIG devices and IMEX channels, in inventory order. */
static int selection_add_extras(const struct gj_inventory *inv, const bool *chosen,
                                struct gj_selection *ret) {
        size_t n_migs = 0, n_imex = 0;
        for (size_t k = 0; k < inv->n_migs; k++)
                n_migs += chosen[inv->n_devices + k];
        for (size_t k = 0; k < inv->n_imex_channels; k++)
                n_imex += chosen[inv->n_devices + inv->n_migs + k];
        ret->migs = calloc(n_migs + 1, sizeof(*ret->migs));
        ret->imex = calloc(n_imex + 1, sizeof(*ret->imex));
        if (!ret->migs || !ret->imex)
                return -ENOMEM;
        for (size_t k = 0; k < inv->n_migs; k++)
                if (chosen[inv->n_devices + k])
                        ret->migs[ret->n_migs++] = &inv->migs[k];
        for (size_t k = 0; k < inv->n_imex_channels; k++)
                if (chosen[inv->n_devices + inv->n_migs + k])
                        ret->imex[ret->n_imex++] = &inv->imex_channels[k];
        return 0;
}

/* The chosen devices, in index order whatever the order of the items. */
static int selection_from_chosen(const struct gj_inventory *inv, const bool *chosen,
                                 struct gj_selection *ret) {
        size_t n = 0;
        for (size_t i = 0; i < inv->n_devices; i++)
                n += chosen[i];
        const struct gj_device **devs = calloc(n + 1, sizeof(*devs));
        if (!devs)
                return log_error_errno(-ENOMEM, "cannot parse selector: %m");
        n = 0;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (chosen[i])
                        devs[n++] = &inv->devices[i];
        qsort(devs, n, sizeof(*devs), cmp_device_index);

        ret->devices = devs;
        ret->n_devices = n;
        ret->want_controls = true;
        if (selection_add_extras(inv, chosen, ret) < 0) {
                gj_selection_done(ret);
                return log_error_errno(-ENOMEM, "cannot parse selector: %m");
        }
        return 0;
}

int gj_select(const struct gj_inventory *inv, const char *spec, unsigned flags,
              struct gj_selection *ret) {
        char buf[80];

        *ret = (struct gj_selection){};
        if (!spec || is_blank(spec)) {
                ret->none = true; /* unset or empty = "void", as NVIDIA_VISIBLE_DEVICES */
                return 0;
        }

        _cleanup_free_ char *copy = strdup(spec);
        _cleanup_free_ bool *chosen =
                calloc(inv->n_devices + inv->n_migs + inv->n_imex_channels + 1, sizeof(bool));
        if (!copy || !chosen)
                return log_error_errno(-ENOMEM, "cannot parse selector: %m");

        size_t n_items = 0;
        bool none = false, void_ = false;
        /* Not strtok_r: it would skip empty items ("0,,1"), which we reject. */
        for (char *item = copy, *next; item; item = next) {
                char *comma = strchr(item, ',');
                next = comma ? comma + 1 : NULL;
                if (comma)
                        *comma = 0;
                item = strip(item);
                n_items++;

                if (isempty(item))
                        return log_error_errno(-EINVAL, "empty item in GPU selector '%s'",
                                               item_for_log(spec, buf));
                if (streq(item, "none"))
                        none = true;
                else if (streq(item, "void"))
                        void_ = true;
                else {
                        int r = select_item(inv, flags, item, chosen);
                        if (r < 0)
                                return r;
                }
        }

        if ((none || void_) && n_items > 1)
                return log_error_errno(-EINVAL, "GPU selector '%s': '%s' must stand alone",
                                       item_for_log(spec, buf), none ? "none" : "void");
        if (none || void_) {
                ret->none = true;
                ret->want_controls = none;
                return 0;
        }

        if (!(flags & GJ_SELECT_NO_MIG_WARNING))
                notice_whole_mig_gpus(inv, chosen);
        return selection_from_chosen(inv, chosen, ret);
}

int gj_selector_plain_indexes(const char *spec, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ char *copy = spec ? strdup(spec) : NULL;
        _cleanup_free_ unsigned *v = NULL;
        size_t n = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!spec || is_blank(spec))
                return 0;
        if (!copy || !(v = calloc(strlen(spec) / 2 + 1, sizeof(*v))))
                return -ENOMEM;
        for (char *item = copy, *next; item; item = next) {
                char *comma = strchr(item, ',');
                next = comma ? comma + 1 : NULL;
                if (comma)
                        *comma = 0;
                item = strip(item);
                if (!isdigit((unsigned char)*item) || safe_atou(item, &v[n]) < 0)
                        return 0;
                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 1;
}

bool gj_selection_has(const struct gj_selection *sel, const struct gj_device *d) {
        for (size_t i = 0; i < sel->n_devices; i++)
                if (sel->devices[i] == d)
                        return true;
        return false;
}

void gj_selection_done(struct gj_selection *sel) {
        if (!sel)
                return;
        free(sel->devices);
        free(sel->migs);
        free(sel->imex);
        *sel = (struct gj_selection){};
}

bool gj_selection_within(const struct gj_selection *want, const struct gj_selection *allowed,
                         const struct gj_device **ret_missing) {
        for (size_t i = 0; i < want->n_devices; i++)
                if (!gj_selection_has(allowed, want->devices[i])) {
                        if (ret_missing)
                                *ret_missing = want->devices[i];
                        return false;
                }
        return true;
}

void gj_selection_keep(struct gj_selection *sel, const struct gj_selection *allowed) {
        size_t kept = 0;
        for (size_t i = 0; i < sel->n_devices; i++)
                if (gj_selection_has(allowed, sel->devices[i]))
                        sel->devices[kept++] = sel->devices[i];
        sel->n_devices = kept;
}
