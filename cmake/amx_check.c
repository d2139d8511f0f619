/* Configure-time probe (cmake/llama.cmake): can ggml's AMX kernels run when
 * built by this compiler on this CPU? ggml configures tiles from a local
 * struct passed to _tile_loadconfig, as below. GCC 12 at -O2 drops the stores
 * to it (its builtin does not tell the optimizer the memory is read), so the
 * next tile instruction faults with SIGILL. Exit 0 only if a tile op runs. */
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct {
    unsigned char  palette_id;
    unsigned char  start_row;
    unsigned char  reserved[14];
    unsigned short colsb[16];
    unsigned char  rows[16];
} tile_config;

int main(void) {
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */)) return 2;
    _Alignas(64) tile_config tc = {0};
    tc.palette_id = 1;
    tc.rows[0]    = 16;
    tc.colsb[0]   = 64;
    _tile_loadconfig(&tc);
    _tile_zero(0);
    _tile_release();
    return 0;
}
