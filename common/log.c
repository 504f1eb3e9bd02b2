/* SPDX-License-Identifier: Apache-2.0 */
#include <syslog.h>
#include <time.h>

#include "gpujail/util.h"

static const char *program = "gpujail";
static enum gj_log_level max_level = GJ_LOG_INFO;
static bool use_syslog;
static gj_log_sink_t sink;

/* Debug lines carry the time since the process (or the gpujail that forked it)
 * started: GPUJAIL_DEBUG=1 shows where a start-up spends its milliseconds. */
static struct timespec epoch;
__attribute__((constructor)) static void log_init_epoch(void) { clock_gettime(CLOCK_MONOTONIC, &epoch); }

static double ms_since_epoch(void) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - epoch.tv_sec) * 1e3 + (double)(now.tv_nsec - epoch.tv_nsec) / 1e6;
}

void log_set_program(const char *name) { program = name; }
void log_set_max_level(enum gj_log_level level) { max_level = level; }
void log_set_sink(gj_log_sink_t fn) { sink = fn; }

void log_set_syslog(bool on) {
        use_syslog = on;
        if (on)
                openlog(program, LOG_PID, LOG_DAEMON);
}

static int syslog_priority(enum gj_log_level level) {
        static const int map[] = {
                [GJ_LOG_ERROR] = LOG_ERR,
                [GJ_LOG_WARNING] = LOG_WARNING,
                [GJ_LOG_INFO] = LOG_INFO,
                [GJ_LOG_DEBUG] = LOG_DEBUG,
        };
        return map[level];
}

/* Expand %m to strerror(error) ourselves: errno may have changed since the failure. */
static void expand_percent_m(char *out, size_t size, const char *fmt, int error) {
        const char *msg = strerror(error);
        size_t o = 0;

        for (const char *p = fmt; *p && o + 1 < size; p++) {
                if (p[0] == '%' && p[1] == '%') {
                        if (o + 2 < size) {
                                out[o++] = '%';
                                out[o++] = '%';
                        }
                        p++;
                } else if (p[0] == '%' && p[1] == 'm') {
                        for (const char *m = msg; *m && o + 1 < size; m++)
                                out[o++] = *m == '%' ? ' ' : *m;
                        p++;
                } else
                        out[o++] = *p;
        }
        out[o] = 0;
}

static void log_write(enum gj_log_level level, int error, const char *fmt, va_list ap) {
        char format[1024], line[2048];

        expand_percent_m(format, sizeof(format), fmt, error);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(line, sizeof(line), format, ap);
#pragma GCC diagnostic pop

        if (sink) {
                sink(level, line);
                return;
        }
        if (level == GJ_LOG_DEBUG)
                fprintf(stderr, "%s: [+%.3f ms, pid %d] %s\n", program, ms_since_epoch(), (int)getpid(), line);
        else
                fprintf(stderr, "%s: %s%s\n", program, level == GJ_LOG_WARNING ? "warning: " : "", line);
        if (use_syslog && level <= GJ_LOG_INFO)
                syslog(syslog_priority(level), "%s", line);
}

int log_full_errno(enum gj_log_level level, int error, const char *fmt, ...) {
        int saved = errno;
        va_list ap;

        error = error < 0 ? -error : error;
        if (level > max_level)
                return -error;
        va_start(ap, fmt);
        log_write(level, error, fmt, ap);
        va_end(ap);
        errno = saved;
        return -error;
}

void log_audit(const char *fmt, ...) {
        char line[2048];
        va_list ap;

        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(line, sizeof(line), fmt, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        /* authpriv: the facility sites route to their security log */
        syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s: %s", program, line);
        if (max_level >= GJ_LOG_DEBUG)
                fprintf(stderr, "%s: [+%.3f ms, pid %d] audit: %s\n", program, ms_since_epoch(), (int)getpid(), line);
}
