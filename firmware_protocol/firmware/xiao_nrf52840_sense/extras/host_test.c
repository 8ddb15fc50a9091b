/*
 * host_test.c - exercise the firmware's protocol logic (src/lip_device.h) on the host.
 *
 * Not part of the sketch (Arduino compiles only the sketch folder and src/). Built and run by
 * tests/test_firmware_host.py:
 *
 *   gcc -std=c99 -Wall -Wextra -Werror -I../src -o host_test host_test.c
 *   ./host_test selftest
 *   ./host_test stream RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU STALL_START_S STALL_S SEED
 *   ./host_test log RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU DATA_SECTORS SEED
 *   ./host_test vectors
 *
 * "selftest" checks tables, commands, FIFO assembly, ring buffer and clock, printing one
 * "ok NAME" line per check (exit status 1 and a "FAIL" line on the first failure).
 * "stream" simulates the sensor (its true rate off by ODR_ERROR_PPM), FIFO reads every
 * 8-14 ms, an optional radio stall, and prints what the central would receive:
 *   C <hex>          the configuration characteristic after START
 *   T <t0_us> <period_us>   truth: time of sample 0 (extended MCU us) and the true period
 *   P <hex>          one data packet per line
 * Sample i carries its index: acc x = i & 0x7fff, acc y = i >> 15, acc z = 2049,
 * gyr = (-(i & 0x7fff), 7, -7).
 * "log" logs such a run to a RAM flash of DATA_SECTORS sectors (plus the directory) with the
 * link down (no radio at all), stops, then lists and reads every session at ATT_MTU:
 *   C <hex>          the configuration after LOG_START
 *   T <t0_us> <period_us>   truth, as for "stream"
 *   E <hex>          the configuration after LOG_STOP (or after the store filled)
 *   L <hex>          one notification of the Log characteristic per line
 *   F <failures>     NOR violations (programming a 0 bit back to 1), must be 0
 * "vectors" replays the logging vectors of make_vectors.c through the device logic and prints
 * "NAME HEX" per message (tests/test_firmware_host.py compares them with vectors.json).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lip_device.h"

static int failures = 0;

#define CHECK(name, cond)                                                     \
    do {                                                                      \
        if (cond) {                                                           \
            printf("ok %s\n", name);                                          \
        } else {                                                              \
            printf("FAIL %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static lip_device_t dev; /* 8+ KiB: static, as on the device */

static uint8_t cmd(const uint8_t *b, size_t n) { return lip_device_command(&dev, b, n); }

/* ---- a RAM NOR flash: erase sets 0xFF, program only clears bits ------------------------- */
#define RAM_FLASH_BYTES (2u * 1024u * 1024u) /* the XIAO nRF52840 Sense's 2 MiB QSPI flash */
static uint8_t flash_mem[RAM_FLASH_BYTES];
typedef struct {
    uint32_t size;
    long programs, erases, violations;
    long fail_after_programs; /* < 0: never; else the program call number that "loses power" */
} ram_flash_t;
static ram_flash_t ram;

static int ram_read(void *ctx, uint32_t addr, uint8_t *buf, size_t n) {
    ram_flash_t *f = (ram_flash_t *)ctx;
    if ((size_t)addr + n > f->size) return -1;
    memcpy(buf, flash_mem + addr, n);
    return 0;
}

static int ram_program(void *ctx, uint32_t addr, const uint8_t *buf, size_t n) {
    ram_flash_t *f = (ram_flash_t *)ctx;
    size_t i;
    if ((size_t)addr + n > f->size) return -1;
    if (f->fail_after_programs >= 0 && f->programs >= f->fail_after_programs) {
        /* power lost in the middle of this write: only its first half reaches the flash */
        for (i = 0; i < n / 2u; i++) flash_mem[addr + i] &= buf[i];
        return -1;
    }
    f->programs++;
    for (i = 0; i < n; i++) {
        if ((flash_mem[addr + i] & buf[i]) != buf[i]) f->violations++;
        flash_mem[addr + i] &= buf[i];
    }
    return 0;
}

static int ram_erase(void *ctx, uint32_t addr) {
    ram_flash_t *f = (ram_flash_t *)ctx;
    if (addr % LIP_FLASH_SECTOR != 0u || addr + LIP_FLASH_SECTOR > f->size) return -1;
    f->erases++;
    memset(flash_mem + addr, 0xFF, LIP_FLASH_SECTOR);
    return 0;
}

static lip_flash_t flash_if = {&ram, RAM_FLASH_BYTES, ram_read, ram_program, ram_erase};
static lip_log_t store;

/* A blank flash of `data_sectors` ring sectors (plus the two directory sectors). */
static void flash_blank(uint32_t data_sectors) {
    ram.size = (LIP_LOG_DIR_SECTORS + data_sectors) * LIP_FLASH_SECTOR;
    ram.programs = ram.erases = ram.violations = 0;
    ram.fail_after_programs = -1;
    flash_if.size = ram.size;
    memset(flash_mem, 0xA5, ram.size); /* not erased: the store must erase before programming */
}

/* Device with the store mounted from the flash as it is. */
static void device_with_store(uint16_t mtu) {
    lip_device_init(&dev);
    lip_log_mount(&store, &flash_if);
    lip_device_attach_store(&dev, &store);
    lip_device_set_mtu(&dev, mtu);
}

/* Push n samples carrying their index (from `first`), stamped every 2404 us from t0. */
static void push_indexed(long first, long n, uint32_t t0) {
    long i;
    lip_sample_t s;
    for (i = 0; i < n; i++) {
        long k = first + i;
        s.acc[0] = (int16_t)(k & 0x7fff);
        s.acc[1] = (int16_t)(k >> 15);
        s.acc[2] = 2049;
        s.gyr[0] = (int16_t)(-(k & 0x7fff));
        s.gyr[1] = 7;
        s.gyr[2] = -7;
        lip_device_push(&dev, t0 + (uint32_t)(i * 2404), &s);
        lip_device_log_service(&dev);
    }
}

/* Send every pending Log notification into buf (concatenated, each preceded by a u16 length);
 * returns the number of messages. */
static size_t drain_log(uint8_t *buf, size_t cap, size_t *used) {
    uint8_t out[LIP_MAX_ATTRIBUTE_SIZE];
    size_t n, count = 0;
    *used = 0;
    while ((n = lip_device_log_peek(&dev, out, sizeof out)) > 0u) {
        if (*used + n + 2u <= cap) {
            lip_put_u16(buf + *used, (uint16_t)n);
            memcpy(buf + *used + 2u, out, n);
            *used += n + 2u;
        }
        lip_device_log_commit(&dev);
        count++;
    }
    return count;
}

/* Read session `id` completely through LOG_READ answers into data (returns its size, or -1). */
static long read_session(uint16_t id, uint8_t *data, size_t cap, uint32_t offset) {
    static uint8_t msgs[1u << 18];
    uint8_t b[16];
    size_t used, pos, n;
    long total = -1;
    n = lip_encode_cmd_log_read(b, id, offset, 0);
    cmd(b, n);
    if (dev.cfg.last_status != LIP_STATUS_OK) return -1;
    drain_log(msgs, sizeof msgs, &used);
    for (pos = 0; pos < used;) {
        uint16_t len = lip_get_u16(msgs + pos);
        const uint8_t *m = msgs + pos + 2;
        lip_log_block_t blk;
        lip_log_read_end_t re;
        if (lip_decode_log_block(m, len, &blk) == LIP_DECODE_OK) {
            if (blk.offset + blk.length <= cap) memcpy(data + blk.offset, blk.payload, blk.length);
        } else if (lip_decode_log_read_end(m, len, &re) == LIP_DECODE_OK) {
            total = (long)re.end;
        } else {
            return -1;
        }
        pos += 2u + len;
    }
    return total;
}

static int find_entry(uint16_t id, lip_log_entry_t *e) {
    int i = lip_log_find(&store, id);
    if (i < 0) return 0;
    *e = store.slot[i].e;
    return 1;
}

static void selftest(void) {
    uint8_t b[8], out[LIP_MAX_PACKET_SIZE], act;
    lip_sample_t s[12];
    lip_fifo_t f;
    uint32_t stamps[64];
    size_t n, i;

    /* tables */
    CHECK("rate 100 -> 104 Hz", lip_pick_rate(100) == 0);
    CHECK("rate 104 -> 104 Hz", lip_pick_rate(104) == 0);
    CHECK("rate 200 -> 208 Hz", lip_pick_rate(200) == 1);
    CHECK("rate 400 -> 416 Hz", lip_pick_rate(400) == 2);
    CHECK("rate 800 -> 833 Hz", lip_pick_rate(800) == 3);
    CHECK("rate 900 unsupported", lip_pick_rate(900) == -1);
    CHECK("rate 0 unsupported", lip_pick_rate(0) == -1);
    CHECK("acc 3 g -> 4 g", lip_pick_range(LIP_LSM6DS3_ACC_RANGES, LIP_LSM6DS3_N_ACC, 3) == 1);
    CHECK("acc 17 g unsupported", lip_pick_range(LIP_LSM6DS3_ACC_RANGES, LIP_LSM6DS3_N_ACC, 17) == -1);
    CHECK("gyr 250 dps -> 245 dps", LIP_LSM6DS3_GYR_RANGES[lip_pick_range(LIP_LSM6DS3_GYR_RANGES, LIP_LSM6DS3_N_GYR, 250)].range == 245);

    /* commands */
    lip_device_init(&dev);
    CHECK("defaults 416 Hz 16 g 2000 dps", dev.cfg.rate_mhz == 416000u && dev.cfg.acc_range_g == 16 && dev.cfg.gyr_range_dps == 2000);
    act = cmd((const uint8_t *)"\x01", 1);
    CHECK("start at MTU 23 refused", dev.cfg.last_status == LIP_STATUS_MTU_TOO_SMALL && dev.cfg.state == LIP_STATE_IDLE &&
                                         act == LIP_ACT_CONFIG_CHANGED);
    lip_device_set_mtu(&dev, 247);
    CHECK("MTU 247 -> 19 samples per packet", dev.cfg.samples_per_packet == 19);
    act = cmd((const uint8_t *)"\x01", 1);
    CHECK("start", dev.cfg.last_status == LIP_STATUS_OK && dev.cfg.state == LIP_STATE_STREAMING &&
                       (act & LIP_ACT_SENSOR_START) && dev.next_flags == LIP_FLAG_STREAM_START);
    act = cmd((const uint8_t *)"\x09", 1);
    CHECK("unknown opcode", dev.cfg.last_status == LIP_STATUS_UNKNOWN_OPCODE && dev.cfg.last_opcode == 9 &&
                                dev.cfg.state == LIP_STATE_STREAMING);
    act = cmd((const uint8_t *)"\x01\x00", 2);
    CHECK("start with an argument: bad length", dev.cfg.last_status == LIP_STATUS_BAD_LENGTH);
    act = cmd((const uint8_t *)"", 0);
    CHECK("empty write: bad length", dev.cfg.last_status == LIP_STATUS_BAD_LENGTH);
    n = lip_encode_cmd_set_rate(b, 1000);
    act = cmd(b, n);
    CHECK("set rate 1000 Hz refused", dev.cfg.last_status == LIP_STATUS_BAD_ARGUMENT && dev.cfg.rate_mhz == 416000u);
    n = lip_encode_cmd_set_rate(b, 100);
    act = cmd(b, n);
    CHECK("set rate 100 while streaming restarts the stream", dev.cfg.last_status == LIP_STATUS_OK &&
                                                                  dev.cfg.rate_mhz == 104000u &&
                                                                  (act & LIP_ACT_SENSOR_RECONFIGURE) &&
                                                                  dev.next_flags == LIP_FLAG_STREAM_START && dev.seq == 0);
    n = lip_encode_cmd_set_range(b, 4, 500);
    act = cmd(b, n);
    CHECK("set range 4 g 500 dps", dev.cfg.acc_range_g == 4 && dev.cfg.acc_scale_ng_per_lsb == 122000u &&
                                       dev.cfg.gyr_range_dps == 500 && dev.cfg.gyr_scale_udps_per_lsb == 17500u);
    n = lip_encode_cmd_set_range(b, 4, 0);
    act = cmd(b, n);
    CHECK("set range with 0 dps refused", dev.cfg.last_status == LIP_STATUS_BAD_ARGUMENT && dev.cfg.gyr_range_dps == 500);
    act = cmd((const uint8_t *)"\x02", 1);
    CHECK("stop", dev.cfg.state == LIP_STATE_IDLE && (act & LIP_ACT_SENSOR_STOP));
    act = cmd((const uint8_t *)"\x02", 1);
    CHECK("stop when idle: no sensor action", dev.cfg.state == LIP_STATE_IDLE && act == LIP_ACT_CONFIG_CHANGED);
    n = lip_device_config_value(&dev, out, sizeof out);
    CHECK("config value is 20 bytes, version 1", n == LIP_CONFIG_SIZE && out[0] == 1 && out[2] == LIP_OP_STOP);

    /* FIFO assembly: pattern Gx Gy Gz XLx XLy XLz, resync on a pattern mismatch */
    lip_fifo_init(&f);
    {
        uint8_t words[2 * 14];
        for (i = 0; i < 14; i++) lip_put_u16(words + 2 * i, (uint16_t)(100 + i));
        n = lip_fifo_feed(&f, 0, words, sizeof words, s, 12);
        CHECK("fifo: 14 words -> 2 samples", n == 2 && s[0].gyr[0] == 100 && s[0].acc[2] == 105 && s[1].gyr[0] == 106);
        CHECK("fifo: 2 words pending", f.pos == 2);
        n = lip_fifo_feed(&f, 2, words, 8, s, 12);
        CHECK("fifo: continues a partial sample", n == 1 && s[0].gyr[0] == 112 && s[0].gyr[2] == 100 && s[0].acc[2] == 103);
        n = lip_fifo_feed(&f, 3, words, 6, s, 12);
        CHECK("fifo: resync to the reported pattern", n == 1 && f.pos == 0 && s[0].acc[0] == 100);
    }

    /* ring buffer: drops the oldest when full */
    lip_device_init(&dev);
    lip_device_set_mtu(&dev, 247);
    cmd((const uint8_t *)"\x01", 1);
    memset(s, 0, sizeof s);
    for (i = 0; i < LIP_RING_CAPACITY + 5u; i++) {
        s[0].acc[0] = (int16_t)i;
        lip_device_push(&dev, (uint32_t)(i * 2404u), &s[0]);
    }
    CHECK("ring full: oldest dropped", dev.ring.count == LIP_RING_CAPACITY && lip_ring_at(&dev.ring, 0)->acc[0] == 5 &&
                                           (dev.next_flags & LIP_FLAG_OVERFLOW));
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("peek: first packet flagged start + overflow", n == lip_packet_size(19) && out[1] == 3 && out[2] == 0);
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("peek again without commit: same packet", n == lip_packet_size(19) && out[2] == 0);
    lip_device_commit(&dev);
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("after commit: next sequence, flags cleared", out[1] == 0 && out[2] == 1 && dev.ring.count == LIP_RING_CAPACITY - 19u);
    lip_device_commit(&dev);
    while (lip_device_peek(&dev, out, sizeof out, 0)) lip_device_commit(&dev);
    CHECK("partial packet waits", dev.ring.count == (LIP_RING_CAPACITY - 38u) % 19u && dev.ring.count > 0);
    n = lip_device_peek(&dev, out, sizeof out, 1);
    CHECK("forced partial packet", n == lip_packet_size(dev.ring.count));
    lip_device_disconnected(&dev);
    CHECK("disconnect: idle, MTU 23", dev.cfg.state == LIP_STATE_IDLE && dev.att_mtu == 23);

    /* clock: a sensor 1 % fast, read every 10 ms */
    {
        lip_clock_t c;
        double p_true = 1e6 / (416.0 * 1.01), worst = 0;
        uint32_t now;
        long taken = 0, k;
        lip_clock_init(&c, 416000u);
        for (k = 1; k <= 1000; k++) {
            long avail;
            now = (uint32_t)(4294000000u + (uint32_t)k * 10000u); /* wraps the MCU counter */
            avail = (long)((double)k * 10000.0 / p_true) + 1 - taken;
            if (avail <= 0) continue;
            lip_clock_stamp(&c, now, (size_t)avail, 0, stamps);
            if (k > 300) {
                long j;
                for (j = 0; j < avail; j++) {
                    double truth = (double)(taken + j) * p_true; /* since 4294000000 */
                    double got = (double)(uint32_t)(stamps[j] - 4294000000u);
                    double e = got - truth;
                    if (e < 0) e = -e;
                    if (e > worst) worst = e;
                }
            }
            taken += avail;
        }
        printf("clock worst error %.1f us, period %.3f us (true %.3f)\n", worst, (double)c.period_q8 / 256.0, p_true);
        CHECK("clock locks to a 1 % fast sensor within half a period", worst < p_true / 2);
        CHECK("clock learns the period within 0.1 %", (double)c.period_q8 / 256.0 > p_true * 0.999 &&
                                                         (double)c.period_q8 / 256.0 < p_true * 1.001);
    }
}

/* ---- on-sensor logging ------------------------------------------------------------------ */
static void selftest_log(void) {
    static uint8_t data[65536], msgs[16384];
    uint8_t b[16], act;
    size_t n, used;
    lip_log_entry_t e, e2;
    lip_log_list_end_t le;
    uint32_t cap_bytes, free0;
    long got, i;
    int ok;

    /* no store: a plain version-1 device */
    lip_device_init(&dev);
    lip_device_set_mtu(&dev, 247);
    cmd((const uint8_t *)"\x10", 1);
    CHECK("log: no store -> LOG_START unknown, 20-byte config",
          dev.cfg.last_status == LIP_STATUS_UNKNOWN_OPCODE && dev.cfg.features == 0 &&
              lip_device_config_value(&dev, b, sizeof b) == 0u);

    /* a blank 16-sector flash */
    flash_blank(16);
    device_with_store(247);
    cap_bytes = lip_log_capacity(&store);
    n = lip_device_config_value(&dev, msgs, sizeof msgs);
    CHECK("log: blank flash mounts empty, 32-byte config", n == LIP_CONFIG_EXT_SIZE && store.count == 0 &&
                                                                dev.cfg.features == LIP_FEATURE_LOG &&
                                                                cap_bytes == 15u * LIP_FLASH_SECTOR &&
                                                                dev.cfg.log_free_bytes == cap_bytes);
    lip_device_tick(&dev, 1000000u);
    n = lip_encode_cmd_set_clock(b, 1714546800000000ull);
    cmd(b, n);
    cmd((const uint8_t *)"\x01", 1); /* streaming */
    cmd((const uint8_t *)"\x10", 1);
    CHECK("log: LOG_START while streaming -> busy", dev.cfg.last_status == LIP_STATUS_BUSY &&
                                                        dev.cfg.log_state == LIP_LOG_STATE_IDLE);
    cmd((const uint8_t *)"\x02", 1);
    act = cmd((const uint8_t *)"\x10", 1);
    CHECK("log: LOG_START", dev.cfg.last_status == LIP_STATUS_OK && dev.cfg.log_state == LIP_LOG_STATE_LOGGING &&
                                (act & LIP_ACT_SENSOR_START) && dev.cfg.log_sessions == 1);
    cmd((const uint8_t *)"\x01", 1);
    CHECK("log: START while logging -> busy", dev.cfg.last_status == LIP_STATUS_BUSY && dev.cfg.state == LIP_STATE_IDLE);
    n = lip_encode_cmd_set_rate(b, 100);
    cmd(b, n);
    CHECK("log: SET_RATE while logging -> busy", dev.cfg.last_status == LIP_STATUS_BUSY && dev.cfg.rate_mhz == 416000u);
    lip_device_disconnected(&dev);
    CHECK("log: the link drops, logging goes on", dev.cfg.log_state == LIP_LOG_STATE_LOGGING);
    lip_device_tick(&dev, 2000000u);
    push_indexed(0, 1000, 2000000u);
    CHECK("log: records written while pushing", store.slot[0].e.size_bytes == 24u * lip_packet_size(41) &&
                                                    dev.ring.count == 1000u - 24u * 41u);
    lip_device_set_mtu(&dev, 247);
    n = lip_encode_cmd_log_read(b, 1, 0, 0);
    cmd(b, n);
    CHECK("log: LOG_READ while logging -> busy", dev.cfg.last_status == LIP_STATUS_BUSY);
    cmd((const uint8_t *)"\x12", 1);
    drain_log(msgs, sizeof msgs, &used);
    ok = lip_decode_log_entry(msgs + 2, lip_get_u16(msgs), &e) == LIP_DECODE_OK;
    CHECK("log: LOG_LIST while logging shows it active",
          ok && (e.flags & LIP_ENTRY_ACTIVE) && (e.flags & LIP_ENTRY_CLOCK_SET) && e.session_id == 1 &&
              e.start_utc_us == 1714546800000000ull + 1000000u);
    act = cmd((const uint8_t *)"\x11", 1);
    CHECK("log: LOG_STOP writes the rest", (act & LIP_ACT_SENSOR_STOP) && dev.cfg.log_state == LIP_LOG_STATE_IDLE &&
                                               find_entry(1, &e) && e.n_samples == 1000u &&
                                               e.size_bytes == 24u * lip_packet_size(41) + lip_packet_size(16) &&
                                               !(e.flags & LIP_ENTRY_ACTIVE));
    CHECK("log: duration from the stamps", e.duration_ms == (999u * 2404u + 2403u + 500u) / 1000u);
    got = read_session(1, data, sizeof data, 0);
    CHECK("log: LOG_READ returns the data, digest matches", got == (long)e.size_bytes &&
                                                                lip_crc32(0, data, (size_t)got) == e.digest);
    {
        size_t pos = 0, k;
        long idx = 0;
        lip_sample_t smp[LIP_MAX_SAMPLES];
        uint8_t fl;
        uint16_t sq, expect = 0;
        uint32_t t;
        ok = 1;
        while (pos < (size_t)got && ok) {
            ok = lip_decode_packet(data + pos, lip_packet_size(data[pos + 8]), &fl, &sq, &t, smp, LIP_MAX_SAMPLES, &k) ==
                     LIP_DECODE_OK && sq == expect++ && ((sq == 0u) == ((fl & LIP_FLAG_STREAM_START) != 0u));
            for (i = 0; i < (long)k && ok; i++, idx++) ok = smp[i].acc[0] == (int16_t)(idx & 0x7fff);
            pos += lip_packet_size(k);
        }
        CHECK("log: every sample once, in order, records in sequence", ok && idx == 1000);
    }
    got = read_session(1, data + 8000, sizeof data - 8000, 5000);
    CHECK("log: LOG_READ from an offset (resume)",
          got == (long)e.size_bytes && memcmp(data + 5000, data + 8000 + 5000, e.size_bytes - 5000u) == 0);
    n = lip_encode_cmd_log_read(b, 1, e.size_bytes + 1u, 0);
    cmd(b, n);
    CHECK("log: LOG_READ beyond the end -> bad argument", dev.cfg.last_status == LIP_STATUS_BAD_ARGUMENT);
    n = lip_encode_cmd_log_read(b, 9, 0, 0);
    cmd(b, n);
    CHECK("log: LOG_READ of an unknown session -> not found", dev.cfg.last_status == LIP_STATUS_NOT_FOUND);
    n = lip_encode_cmd_log_read(b, 1, 100, 50);
    cmd(b, n);
    n = drain_log(msgs, sizeof msgs, &used);
    {
        lip_log_read_end_t re;
        ok = lip_decode_log_read_end(msgs + used - LIP_LOG_READ_END_SIZE, LIP_LOG_READ_END_SIZE, &re) == LIP_DECODE_OK;
        CHECK("log: LOG_READ of a range", n == 2u && ok && re.offset == 100u && re.end == 150u && re.blocks == 1u);
    }
    lip_device_set_mtu(&dev, 23);
    cmd((const uint8_t *)"\x12", 1);
    CHECK("log: LOG_LIST at MTU 23 -> MTU too small", dev.cfg.last_status == LIP_STATUS_MTU_TOO_SMALL);
    lip_device_set_mtu(&dev, 247);

    /* erase: only with the right digest */
    free0 = lip_log_free(&store);
    n = lip_encode_cmd_log_erase(b, 1, e.digest ^ 1u);
    cmd(b, n);
    CHECK("log: erase with a wrong digest refused", dev.cfg.last_status == LIP_STATUS_DIGEST_MISMATCH &&
                                                        lip_log_find(&store, 1) == 0);
    /* a second session, then erase the newer first: space comes back with the older */
    lip_device_tick(&dev, 9000000u);
    cmd((const uint8_t *)"\x10", 1);
    push_indexed(0, 200, 9000000u);
    cmd((const uint8_t *)"\x11", 1);
    find_entry(2, &e2);
    n = lip_encode_cmd_log_erase(b, 2, e2.digest);
    cmd(b, n);
    CHECK("log: erase the newer: hidden, space held", dev.cfg.last_status == LIP_STATUS_OK && lip_log_find(&store, 2) < 0 &&
                                                          store.count == 2 && dev.cfg.log_sessions == 1 &&
                                                          lip_log_free(&store) < free0);
    n = lip_encode_cmd_log_erase(b, 1, e.digest);
    cmd(b, n);
    CHECK("log: erase the older: both reclaimed", dev.cfg.last_status == LIP_STATUS_OK && store.count == 0 &&
                                                      dev.cfg.log_free_bytes == cap_bytes);
    n = lip_encode_cmd_log_erase(b, 1, e.digest);
    cmd(b, n);
    CHECK("log: erase again -> not found", dev.cfg.last_status == LIP_STATUS_NOT_FOUND);
    cmd((const uint8_t *)"\x12", 1);
    n = drain_log(msgs, sizeof msgs, &used);
    CHECK("log: empty list is one list end", n == 1u && lip_decode_log_list_end(msgs + 2, lip_get_u16(msgs), &le) ==
                                                             LIP_DECODE_OK && le.n_sessions == 0 &&
                                                             le.capacity_bytes == cap_bytes);

    /* a full store: the session ends FULL with everything that fit; LOG_START is refused */
    cmd((const uint8_t *)"\x10", 1);
    lip_device_tick(&dev, 20000000u);
    push_indexed(0, 3000, 20000000u); /* 36 KB of records into a 60 KiB ring with one session */
    push_indexed(3000, 3000, 20000000u + 3000u * 2404u);
    CHECK("log: the store fills: the session ends", dev.cfg.log_state == LIP_LOG_STATE_IDLE && find_entry(3, &e) &&
                                                        (e.flags & LIP_ENTRY_FULL) && lip_log_free(&store) < 4096u &&
                                                        e.size_bytes <= cap_bytes);
    got = read_session(3, data, sizeof data, 0);
    CHECK("log: a full session reads back whole", got == (long)e.size_bytes && lip_crc32(0, data, (size_t)got) == e.digest);
    cmd((const uint8_t *)"\x10", 1);
    CHECK("log: LOG_START on a full store -> store full", dev.cfg.last_status == LIP_STATUS_STORE_FULL &&
                                                             dev.cfg.log_state == LIP_LOG_STATE_IDLE);
    n = lip_encode_cmd_log_erase(b, 3, e.digest);
    cmd(b, n);
    /* around the ring: sessions keep coming after erases; data stay intact across the wrap */
    ok = 1;
    for (i = 0; i < 6 && ok; i++) {
        lip_device_tick(&dev, (uint32_t)(30000000 + i * 10000000));
        cmd((const uint8_t *)"\x10", 1);
        push_indexed(0, 1500, (uint32_t)(30000000 + i * 10000000));
        cmd((const uint8_t *)"\x11", 1);
        ok = find_entry((uint16_t)(4 + i), &e) && read_session(e.session_id, data, sizeof data, 0) == (long)e.size_bytes &&
             lip_crc32(0, data, e.size_bytes) == e.digest && e.n_samples == 1500u;
        n = lip_encode_cmd_log_erase(b, e.session_id, e.digest);
        cmd(b, n);
    }
    CHECK("log: six sessions around the ring, each intact", ok && store.head > 2u * store.ring_size / 2u);

    /* power lost while logging: the session is closed at its last complete record */
    cmd((const uint8_t *)"\x10", 1);
    push_indexed(0, 500, 90000000u);
    n = store.slot[store.active].e.size_bytes;
    device_with_store(247); /* reboot: mount again from the flash */
    CHECK("log: power loss -> recovered at the last record", find_entry(10, &e) && (e.flags & LIP_ENTRY_RECOVERED) &&
                                                                !(e.flags & LIP_ENTRY_ACTIVE) && e.size_bytes == n &&
                                                                e.n_samples == 12u * 41u && (e.flags & LIP_ENTRY_CLOCK_SET));
    got = read_session(10, data, sizeof data, 0);
    CHECK("log: the recovered session's digest", got == (long)n && lip_crc32(0, data, n) == e.digest);
    /* power lost in the middle of programming a record */
    lip_device_tick(&dev, 100000000u);
    cmd((const uint8_t *)"\x10", 1);
    push_indexed(0, 41 * 5, 100000000u);
    ram.fail_after_programs = ram.programs; /* the next record write stops half way */
    push_indexed(41 * 5, 41 * 2, 100000000u + 41u * 5u * 2404u);
    ram.fail_after_programs = -1;
    device_with_store(247);
    CHECK("log: a half-written record is not taken", find_entry(11, &e) && (e.flags & LIP_ENTRY_RECOVERED) &&
                                                         e.n_samples == 5u * 41u &&
                                                         e.size_bytes == 5u * lip_packet_size(41));
    /* a directory copy destroyed: the other one is used */
    {
        uint16_t count = store.count;
        uint32_t gen = store.generation;
        memset(flash_mem + (uint32_t)store.dir_copy * LIP_FLASH_SECTOR + 30u, 0x00, 8);
        device_with_store(247);
        /* the other copy is one generation older; mounting writes it again as the newest */
        CHECK("log: a corrupt directory copy falls back to the other", store.count == count && store.generation == gen);
    }
    /* directory slots run out */
    flash_blank(200);
    device_with_store(247);
    ok = 1;
    for (i = 0; i < (long)LIP_LOG_MAX_SESSIONS && ok; i++) {
        cmd((const uint8_t *)"\x10", 1);
        push_indexed(0, 41, 1000u);
        cmd((const uint8_t *)"\x11", 1);
        ok = dev.cfg.last_status == LIP_STATUS_OK;
    }
    cmd((const uint8_t *)"\x10", 1);
    CHECK("log: no directory slot left -> store full", ok && dev.cfg.last_status == LIP_STATUS_STORE_FULL &&
                                                           dev.cfg.log_sessions == LIP_LOG_MAX_SESSIONS);
    CHECK("log: never programmed a 0 back to 1", ram.violations == 0);
}

/* ---- stream simulation ---------------------------------------------------------------- */
static uint32_t lcg_state = 1;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static void print_hex(const char *tag, const uint8_t *p, size_t n) {
    size_t i;
    printf("%s ", tag);
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

#define FIFO_SAMPLES 341u /* 4 KiB FIFO = 2048 words = 341 six-word samples */

static int stream(int argc, char **argv) {
    unsigned rate_hz, mtu;
    double seconds, ppm, stall_start, stall_len, p_true;
    uint8_t b[8], out[LIP_MAX_PACKET_SIZE];
    uint8_t words[LIP_FIFO_CHUNK_SAMPLES * 12u];
    long produced = 0, read = 0, total;
    int64_t now_ext;
    const int64_t start = 4294967295LL - 3000000LL; /* the MCU counter wraps 3 s in */
    size_t n;
    int overrun = 0;

    if (argc != 9) {
        fprintf(stderr, "usage: host_test stream RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU STALL_START_S STALL_S SEED\n");
        return 2;
    }
    rate_hz = (unsigned)atoi(argv[2]);
    seconds = atof(argv[3]);
    ppm = atof(argv[4]);
    mtu = (unsigned)atoi(argv[5]);
    stall_start = atof(argv[6]);
    stall_len = atof(argv[7]);
    lcg_state = (uint32_t)atoi(argv[8]) + 1u;

    lip_device_init(&dev);
    lip_device_set_mtu(&dev, (uint16_t)mtu);
    n = lip_encode_cmd_set_rate(b, (uint16_t)rate_hz);
    lip_device_command(&dev, b, n);
    lip_device_command(&dev, (const uint8_t *)"\x01", 1);
    if (dev.cfg.state != LIP_STATE_STREAMING) {
        fprintf(stderr, "device did not start: status %u\n", (unsigned)dev.cfg.last_status);
        return 1;
    }
    n = lip_device_config_value(&dev, out, sizeof out);
    print_hex("C", out, n);
    p_true = 1e9 / (double)dev.cfg.rate_mhz / (1.0 + ppm * 1e-6);
    /* sample i is taken at start + 1000 + i * p_true (extended MCU microseconds) */
    printf("T %.3f %.6f\n", (double)(start + 1000), p_true);
    total = (long)(seconds * 1e6 / p_true);

    now_ext = start;
    while (read < total) {
        long avail, unread;
        int stalled;
        now_ext += 8000 + (int64_t)(lcg() % 6000u); /* the loop runs every 8-14 ms */
        avail = (long)((double)(now_ext - start - 1000) / p_true) + 1;
        if (avail > total) avail = total;
        produced = avail;
        unread = produced - read;
        if (unread > (long)FIFO_SAMPLES) { /* continuous mode: the FIFO overwrites the oldest */
            read = produced - (long)FIFO_SAMPLES;
            unread = (long)FIFO_SAMPLES;
            overrun = 1;
        }
        while (unread > 0) {
            long k = unread > (long)LIP_FIFO_CHUNK_SAMPLES ? (long)LIP_FIFO_CHUNK_SAMPLES : unread, j;
            for (j = 0; j < k; j++) {
                long i = read + j;
                int16_t w[6];
                int q;
                w[0] = (int16_t)(-(i & 0x7fff));
                w[1] = 7;
                w[2] = -7;
                w[3] = (int16_t)(i & 0x7fff);
                w[4] = (int16_t)(i >> 15);
                w[5] = 2049;
                for (q = 0; q < 6; q++) lip_put_u16(words + 12 * j + 2 * q, (uint16_t)w[q]);
            }
            lip_device_fifo_data(&dev, (uint32_t)(uint64_t)now_ext, 0, words, (size_t)k * 12u, (size_t)(unread - k),
                                 overrun);
            overrun = 0;
            read += k;
            unread -= k;
        }
        stalled = (double)(now_ext - start) > stall_start * 1e6 && (double)(now_ext - start) < (stall_start + stall_len) * 1e6;
        while (!stalled && (n = lip_device_peek(&dev, out, sizeof out, 0)) > 0u) {
            print_hex("P", out, n);
            lip_device_commit(&dev);
        }
    }
    while ((n = lip_device_peek(&dev, out, sizeof out, 1)) > 0u) {
        print_hex("P", out, n);
        lip_device_commit(&dev);
    }
    return 0;
}

/* ---- the logging vectors of make_vectors.c, through the device logic ----------------------- */
static void print_named(const char *name, const uint8_t *p, size_t n) {
    size_t i;
    printf("%s ", name);
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static int vectors(void) {
    static uint8_t msgs[4096];
    uint8_t b[16], out[LIP_CONFIG_EXT_SIZE];
    size_t n, used, pos;
    int k;
    static const char *names[] = {"log_entry_session_1", "log_list_end", "log_block_first", "log_block_last",
                                  "log_read_end", "log_clock"};
    int next = 0;
    flash_blank(510); /* the 2 MiB flash */
    device_with_store(67);
    dev.log_record_samples = 3;
    lip_device_tick(&dev, 4000000u);
    n = lip_encode_cmd_set_clock(b, 1714546800000000ull);
    cmd(b, n);
    cmd((const uint8_t *)"\x10", 1);
    n = lip_device_config_value(&dev, out, sizeof out);
    print_named("config_logging", out, n);
    lip_device_tick(&dev, 5010000u);
    for (k = 0; k < 5; k++) {
        lip_sample_t s;
        s.acc[0] = (int16_t)(k * 1000 - 9000);
        s.acc[1] = (int16_t)(-37 * k);
        s.acc[2] = (int16_t)(2049 + 3 * k);
        s.gyr[0] = (int16_t)(10 * k * k - 500);
        s.gyr[1] = (int16_t)((k % 2 ? -100 : 100) * k);
        s.gyr[2] = (int16_t)(-32768 + 3000 * k);
        lip_device_push(&dev, 5000000u + (uint32_t)k * 2404u, &s);
        lip_device_log_service(&dev);
    }
    cmd((const uint8_t *)"\x11", 1);
    n = lip_device_config_value(&dev, out, sizeof out);
    print_named("config_logged_one_session", out, n);
    cmd((const uint8_t *)"\x12", 1);
    drain_log(msgs, sizeof msgs, &used);
    for (pos = 0; pos < used; pos += 2u + lip_get_u16(msgs + pos)) print_named(names[next++], msgs + pos + 2, lip_get_u16(msgs + pos));
    n = lip_encode_cmd_log_read(b, 1, 0, 0);
    cmd(b, n);
    drain_log(msgs, sizeof msgs, &used);
    for (pos = 0; pos < used; pos += 2u + lip_get_u16(msgs + pos)) print_named(names[next++], msgs + pos + 2, lip_get_u16(msgs + pos));
    lip_device_tick(&dev, 64000000u);
    cmd((const uint8_t *)"\x16", 1);
    drain_log(msgs, sizeof msgs, &used);
    print_named(names[next++], msgs + 2, lip_get_u16(msgs));
    return next == 6 ? 0 : 1;
}

/* ---- a run logged with no central, then listed and read -------------------------------- */
static int log_run(int argc, char **argv) {
    unsigned rate_hz, mtu, sectors;
    double seconds, ppm, p_true;
    uint8_t b[16], out[LIP_MAX_ATTRIBUTE_SIZE];
    uint8_t words[LIP_FIFO_CHUNK_SAMPLES * 12u];
    long read = 0, total;
    int64_t now_ext;
    const int64_t start = 4294967295LL - 3000000LL; /* the MCU counter wraps 3 s in */
    size_t n;
    uint16_t i;

    if (argc != 8) {
        fprintf(stderr, "usage: host_test log RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU DATA_SECTORS SEED\n");
        return 2;
    }
    rate_hz = (unsigned)atoi(argv[2]);
    seconds = atof(argv[3]);
    ppm = atof(argv[4]);
    mtu = (unsigned)atoi(argv[5]);
    sectors = (unsigned)atoi(argv[6]);
    lcg_state = (uint32_t)atoi(argv[7]) + 1u;
    if (sectors < 3u || (LIP_LOG_DIR_SECTORS + sectors) * LIP_FLASH_SECTOR > RAM_FLASH_BYTES) {
        fprintf(stderr, "DATA_SECTORS out of range\n");
        return 2;
    }
    flash_blank(sectors);
    device_with_store((uint16_t)mtu);
    lip_device_tick(&dev, (uint32_t)(uint64_t)(start - 1000000));
    n = lip_encode_cmd_set_clock(b, 1714546800000000ull);
    cmd(b, n);
    n = lip_encode_cmd_set_rate(b, (uint16_t)rate_hz);
    cmd(b, n);
    cmd((const uint8_t *)"\x10", 1);
    if (dev.cfg.log_state != LIP_LOG_STATE_LOGGING) {
        fprintf(stderr, "device did not start logging: status %u\n", (unsigned)dev.cfg.last_status);
        return 1;
    }
    n = lip_device_config_value(&dev, out, sizeof out);
    print_hex("C", out, n);
    lip_device_disconnected(&dev); /* the runner leaves: no central from here on */
    p_true = 1e9 / (double)dev.cfg.rate_mhz / (1.0 + ppm * 1e-6);
    printf("T %.3f %.6f\n", (double)(start + 1000), p_true);
    total = (long)(seconds * 1e6 / p_true);
    now_ext = start;
    while (read < total && dev.cfg.log_state == LIP_LOG_STATE_LOGGING) {
        long avail, unread;
        now_ext += 8000 + (int64_t)(lcg() % 6000u);
        lip_device_tick(&dev, (uint32_t)(uint64_t)now_ext);
        avail = (long)((double)(now_ext - start - 1000) / p_true) + 1;
        if (avail > total) avail = total;
        unread = avail - read;
        while (unread > 0) {
            long k = unread > (long)LIP_FIFO_CHUNK_SAMPLES ? (long)LIP_FIFO_CHUNK_SAMPLES : unread, j;
            for (j = 0; j < k; j++) {
                long idx = read + j;
                int16_t w[6];
                int q;
                w[0] = (int16_t)(-(idx & 0x7fff));
                w[1] = 7;
                w[2] = -7;
                w[3] = (int16_t)(idx & 0x7fff);
                w[4] = (int16_t)(idx >> 15);
                w[5] = 2049;
                for (q = 0; q < 6; q++) lip_put_u16(words + 12 * j + 2 * q, (uint16_t)w[q]);
            }
            lip_device_fifo_data(&dev, (uint32_t)(uint64_t)now_ext, 0, words, (size_t)k * 12u, (size_t)(unread - k), 0);
            read += k;
            unread -= k;
        }
        lip_device_log_service(&dev);
    }
    lip_device_set_mtu(&dev, (uint16_t)mtu); /* the host connects again */
    cmd((const uint8_t *)"\x11", 1);
    n = lip_device_config_value(&dev, out, sizeof out);
    print_hex("E", out, n);
    cmd((const uint8_t *)"\x12", 1);
    while ((n = lip_device_log_peek(&dev, out, sizeof out)) > 0u) {
        print_hex("L", out, n);
        lip_device_log_commit(&dev);
    }
    for (i = 0; i < store.count; i++) {
        n = lip_encode_cmd_log_read(b, store.slot[i].e.session_id, 0, 0);
        cmd(b, n);
        while ((n = lip_device_log_peek(&dev, out, sizeof out)) > 0u) {
            print_hex("L", out, n);
            lip_device_log_commit(&dev);
        }
    }
    printf("F %ld\n", ram.violations);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "selftest") == 0) {
        selftest();
        selftest_log();
        if (failures) return 1;
        printf("all ok\n");
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "stream") == 0) return stream(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "log") == 0) return log_run(argc, argv);
    if (argc == 2 && strcmp(argv[1], "vectors") == 0) return vectors();
    fprintf(stderr, "usage: host_test selftest | stream ... | log ... | vectors\n");
    return 2;
}
