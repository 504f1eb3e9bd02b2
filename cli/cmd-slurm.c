/* SPDX-License-Identifier: Apache-2.0 */
/* gpujail slurm gres-conf: gres.conf lines in gpujail's index order (devices/slurm.c). */
#include <getopt.h>
#include <sys/utsname.h>

#include "cli.h"
#include "gpujail/inventory.h"
#include "gpujail/slurm.h"
#include "gpujail/util.h"

static void slurm_usage(FILE *f) {
        fprintf(f,
                "Usage: gpujail slurm gres-conf [--node NAME | --no-node] [--no-cores]\n"
                "\n"
                "Print this node's gres.conf lines for Slurm: one per NVIDIA GPU, in gpujail's\n"
                "index order (PCI bus order, as nvidia-smi and 'gpujail list' show it), with\n"
                "Type= from the GPU's model (as Slurm's AutoDetect=nvml spells it) and Cores=\n"
                "the CPUs of its NUMA node. Slurm numbers GPUs in File= order, so with these\n"
                "lines Slurm's GPU N (SLURM_STEP_GPUS) is gpujail's GPU N: spank_gpujail.so and\n"
                "'gpujail run' inside a job rely on it. Changes nothing; any user may run it.\n"
                "\n"
                "Options:\n"
                "      --node NAME   NodeName= of the lines (default: the short host name)\n"
                "      --no-node     no NodeName= (a gres.conf read by this node only)\n"
                "      --no-cores    no Cores= (Slurm counts cores, not CPUs: on hosts with\n"
                "                    SMT check the CPU lists against 'slurmd -C')\n"
                "  -h, --help        this text\n"
                "\n"
                "Example:\n"
                "  gpujail slurm gres-conf >/etc/slurm/gres.conf\n"
                "\n"
                "Exit status: 0 when the lines were printed, 125 on error (no NVIDIA GPU).\n");
}

/* The CPU list of each NUMA node the GPUs sit on; NULL where sysfs has none. */
static char **read_numa_cpus(const struct gj_inventory *inv, size_t *ret_n) {
        int max = -1;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].numa_node > max)
                        max = inv->devices[i].numa_node;
        char **cpus = calloc((size_t)max + 2, sizeof(char *));
        if (!cpus)
                return NULL;
        for (int n = 0; n <= max; n++) {
                char path[64];
                snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
                (void)read_one_line(path, &cpus[n]);
        }
        *ret_n = (size_t)max + 1;
        return cpus;
}

static void free_numa_cpus(char **cpus, size_t n) {
        for (size_t i = 0; cpus && i < n; i++)
                free(cpus[i]);
        free(cpus);
}

static int gres_conf(const char *node_name, bool with_cores) {
        _cleanup_inventory_ struct gj_inventory *inv = NULL;
        int r = cli_load_inventory(false, &inv);
        if (r != 0)
                return r;

        size_t n_numa = 0;
        char **cpus = with_cores ? read_numa_cpus(inv, &n_numa) : NULL;
        if (with_cores && !cpus)
                return log_error_errno(-ENOMEM, "cannot read NUMA CPU lists: %m"), GJ_EXIT_FAILURE;
        _cleanup_free_ char *text = NULL;
        r = gj_slurm_gres_conf(inv, node_name, cpus, n_numa, &text);
        free_numa_cpus(cpus, n_numa);
        if (r < 0)
                return GJ_EXIT_FAILURE;
        fputs(text, stdout);
        return fflush(stdout) == 0 ? 0 : GJ_EXIT_FAILURE;
}

int cmd_slurm(int argc, char **argv) {
        static const struct option options[] = {
                { "node", required_argument, NULL, 'n' },
                { "no-node", no_argument, NULL, 'N' },
                { "no-cores", no_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct utsname u;
        const char *node = uname(&u) == 0 ? u.nodename : NULL;
        bool with_cores = true;
        int c;

        if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help")) {
                slurm_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? GJ_EXIT_FAILURE : 0;
        }
        if (!streq(argv[1], "gres-conf")) {
                log_error("unknown 'slurm' command '%s' (try 'gpujail slurm --help')", argv[1]);
                return GJ_EXIT_FAILURE;
        }
        argc--, argv++;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'n': node = optarg; break;
                case 'N': node = NULL; break;
                case 'C': with_cores = false; break;
                case 'h': slurm_usage(stdout); return 0;
                default: return GJ_EXIT_FAILURE;
                }
        }
        if (optind < argc) {
                log_error("'slurm gres-conf' takes no arguments ('%s')", argv[optind]);
                return GJ_EXIT_FAILURE;
        }
        /* The short host name, as Slurm's NodeName= (and `hostname -s`) spell it. */
        if (node && node == u.nodename)
                u.nodename[strcspn(u.nodename, ".")] = 0;
        return gres_conf(node, with_cores);
}
