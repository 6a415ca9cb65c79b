/* Does this host make memory nobody read for a while slow to read again?
 * (README, "Why keeping warm".) No module, no Asterisk: 150 MiB on
 * transparent huge pages, written once; optionally IDLE seconds untouched
 * (but for the warming thread); then N times: sleep GAP µs, time two random
 * reads. With WARM > 0 a second thread reads one byte of every STRIDE bytes
 * (default 2 MiB: each huge page) every WARM µs.
 *   cc -O2 -pthread bench/cold-pages.c -o cold-pages
 *   ./cold-pages 20000 1000 0                  reads 20 ms apart, no warming
 *   ./cold-pages 20000 1000 20000              the same, huge pages warmed every 20 ms
 *   ./cold-pages 1000 1000 20000 2097152 120   after 120 s idle, huge pages warmed
 *   ./cold-pages 1000 1000 1000000 4096 120    after 120 s idle, each 4 KiB page read every second
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE (150ul << 20)
#define HUGE (2ul << 20)

static unsigned char *mem;
static int warm_us;
static size_t stride = HUGE;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *warm(void *unused)
{
    volatile unsigned sum = 0;
    (void)unused;
    for (;;) {
        usleep(warm_us);
        for (size_t at = 0; at < SIZE; at += stride)
            sum += mem[at];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s GAP_US N WARM_US [STRIDE [IDLE_S]]\n", argv[0]);
        return 2;
    }
    int gap_us = atoi(argv[1]), n = atoi(argv[2]);
    warm_us = atoi(argv[3]);
    if (argc > 4 && strtoul(argv[4], NULL, 0) > 0)
        stride = strtoul(argv[4], NULL, 0);
    int idle_s = argc > 5 ? atoi(argv[5]) : 0;
    if (n < 1)
        n = 1;
    unsigned char *map = mmap(NULL, SIZE + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t *took = malloc(sizeof(uint64_t) * (size_t)n);
    if (map == MAP_FAILED || !took) {
        perror("memory");
        return 1;
    }
    mem = (unsigned char *)(((uintptr_t)map + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    madvise(mem, SIZE, MADV_HUGEPAGE);
    memset(mem, 1, SIZE);
    pthread_t t;
    if (warm_us > 0)
        pthread_create(&t, NULL, warm, NULL);
    if (idle_s > 0)
        sleep((unsigned)idle_s);
    /* xorshift: every bit of the offset random (an LCG's low bits are not) */
    uint64_t seed = 88172645463325252ull;
    volatile unsigned sum = 0;
    int slow = 0;
    for (int i = 0; i < n; i++) {
        usleep(gap_us);
        uint64_t t0 = now_ns();
        for (int k = 0; k < 2; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            sum += mem[(seed >> 8) % SIZE];
        }
        took[i] = now_ns() - t0;
        slow += took[i] > 5000;
    }
    qsort(took, (size_t)n, sizeof(uint64_t), by_value);
    printf("after %d s idle, reads %d µs apart, warming every %d µs at a %zu-byte stride: p50 %.2f, p99 %.2f, "
           "p99.9 %.2f, max %.2f µs; %d of %d over 5 µs\n",
           idle_s, gap_us, warm_us, stride, took[n / 2] / 1e3, took[n * 99 / 100] / 1e3, took[n * 999 / 1000] / 1e3,
           took[n - 1] / 1e3, slow, n);
    return 0;
}
