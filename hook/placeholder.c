/* Removed once the first kernel-side file lands. */
extern int gj_hook_placeholder; int gj_hook_placeholder;
