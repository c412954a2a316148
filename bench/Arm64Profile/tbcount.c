/*
 * tbcount: a QEMU TCG plugin (user mode, plugin API version 1, QEMU 6.0..7.2) for bench/arm64-profile.sh.
 * Counts how often each translation block (TB) runs, with an inline add per TB (no callback, no log),
 * and keeps only the executions between the first entry of two marker addresses (Program.ProfileBegin
 * and Program.ProfileEnd of bench/Arm64Profile), so that everything before and after the profiled run
 * is left out.
 *
 * Arguments (link-time addresses, as llvm-objdump prints them; the plugin adds the executable's load bias,
 * qemu_plugin_start_code() - TEXT; qemu_plugin_entry_code() would be the dynamic loader's entry):
 *   text=HEX    p_vaddr of the executable's lowest executable PT_LOAD segment
 *   begin=HEX   the first instruction of the begin marker
 *   end=HEX     the first instruction of the end marker
 *   out=FILE    where to write the result
 * Output: "bias HEX", "markers N" (2 when both were seen), then one line per TB that ran in the window:
 *   "tb LINKADDR NINSNS COUNT"  (LINKADDR: the TB's first instruction minus the bias; code outside the
 *   executable, e.g. libc, shows as an address outside its sections).
 * Build: clang -O2 -shared -fPIC -o tbcount.so tbcount.c   (no QEMU headers needed: the few declarations
 * used are below). Run: qemu-aarch64 -plugin ./tbcount.so,text=..,begin=..,end=..,out=.. PROGRAM ARGS
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part of QEMU's plugin API (include/qemu/qemu-plugin.h, version 1) that this plugin uses. */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct {
    const char *target_name;
    struct { int min, cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus, max_vcpus; } system; };
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_start_code(void);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One counter per (start address, instruction count); entries never move (the inline add holds a pointer). */
typedef struct Entry {
    uint64_t vaddr, count, base, delta;
    uint32_t ninsns;
    struct Entry *next;
} Entry;

#define BUCKETS (1u << 16)
static Entry *table[BUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t text_link, begin_link, end_link, bias;
static bool bias_known;
static int markers; /* 0: before the window, 1: inside, 2: after */
static const char *out_path;

static Entry *lookup(uint64_t vaddr, uint32_t n)
{
    uint64_t h = (vaddr >> 2) * 0x9E3779B97F4A7C15ull;
    Entry **slot = &table[(h >> 40) & (BUCKETS - 1)];
    for (Entry *e = *slot; e; e = e->next)
        if (e->vaddr == vaddr && e->ninsns == n) return e;
    Entry *e = calloc(1, sizeof *e);
    if (!e) { perror("tbcount"); exit(1); }
    e->vaddr = vaddr;
    e->ninsns = n;
    e->next = *slot;
    *slot = e;
    return e;
}

/* The markers run once each: at the begin marker every counter's value is remembered, at the end marker
   the difference is kept. TBs first translated inside the window start from zero. */
static void on_marker(unsigned int vcpu, void *which)
{
    (void)vcpu;
    pthread_mutex_lock(&lock);
    int m = (int)(uintptr_t)which;
    if (m == 1 && markers == 0) {
        for (unsigned i = 0; i < BUCKETS; i++)
            for (Entry *e = table[i]; e; e = e->next) e->base = e->count;
        markers = 1;
    } else if (m == 2 && markers == 1) {
        for (unsigned i = 0; i < BUCKETS; i++)
            for (Entry *e = table[i]; e; e = e->next) e->delta = e->count - e->base;
        markers = 2;
    }
    pthread_mutex_unlock(&lock);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    uint32_t n = (uint32_t)qemu_plugin_tb_n_insns(tb);
    pthread_mutex_lock(&lock);
    if (!bias_known) { bias = qemu_plugin_start_code() - text_link; bias_known = true; }
    Entry *e = lookup(vaddr, n);
    pthread_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->count, 1);
    if (vaddr == begin_link + bias)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_marker, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)1);
    else if (vaddr == end_link + bias)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_marker, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)2);
}

static void on_exit_(qemu_plugin_id_t id, void *p)
{
    (void)id; (void)p;
    FILE *f = fopen(out_path, "w");
    if (!f) { perror(out_path); return; }
    fprintf(f, "bias %" PRIx64 "\nmarkers %d\n", bias, markers);
    for (unsigned i = 0; i < BUCKETS; i++)
        for (Entry *e = table[i]; e; e = e->next)
            if (e->delta) fprintf(f, "tb %" PRIx64 " %u %" PRIu64 "\n", e->vaddr - bias, e->ninsns, e->delta);
    fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    if (info->system_emulation) { fprintf(stderr, "tbcount: user mode only\n"); return 1; }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "text=", 5)) text_link = strtoull(a + 5, NULL, 16);
        else if (!strncmp(a, "begin=", 6)) begin_link = strtoull(a + 6, NULL, 16);
        else if (!strncmp(a, "end=", 4)) end_link = strtoull(a + 4, NULL, 16);
        else if (!strncmp(a, "out=", 4)) out_path = a + 4;
        else { fprintf(stderr, "tbcount: unknown argument %s\n", a); return 1; }
    }
    if (!out_path || !begin_link || !end_link || !text_link) {
        fprintf(stderr, "tbcount: needs text=HEX,begin=HEX,end=HEX,out=FILE\n");
        return 1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
