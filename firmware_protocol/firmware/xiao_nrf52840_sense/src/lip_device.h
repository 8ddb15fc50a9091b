/*
 * lip_device.h - the device side of the lumbar IMU protocol, free of any hardware or BLE API.
 *
 * Everything the firmware decides lives here, in plain C99 without dynamic allocation, so that
 * the test suite compiles and exercises it on the host with gcc
 * (extras/host_test.c, driven by tests/test_firmware_host.py):
 *
 *   - sensor tables of the LSM6DS3 / LSM6DS3TR-C (rates, ranges, sensitivities);
 *   - lip_fifo_*:   turns the sensor FIFO's 16-bit words (gyro x y z, accel x y z) into samples;
 *   - lip_clock_*:  time stamps for samples read in batches (a small phase-locked loop that
 *                   learns the sensor's true sample period against the MCU clock);
 *   - lip_ring_*:   a ring buffer of stamped samples between the sensor and the radio;
 *   - lip_device_*: the state machine behind the control characteristic (start, stop, rate,
 *                   range), the configuration characteristic, and the packetiser;
 *   - on-sensor logging (PROTOCOL.md section 7): with a session store attached
 *     (lip_log.h, lip_device_attach_store) the device logs records to flash with no central
 *     connected (LOG_START / LOG_STOP), keeps a UTC clock (SET_CLOCK / GET_CLOCK) and answers
 *     LOG_LIST / LOG_READ / LOG_ERASE with notifications of the Log characteristic
 *     (lip_device_log_peek / lip_device_log_commit, like the data packets).
 *
 * The sketch (xiao_nrf52840_sense.ino) only moves bytes between these functions, the I2C bus
 * and the BLE stack.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LIP_DEVICE_H
#define LIP_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "lip_log.h"
#include "lumbar_imu_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- LSM6DS3 / LSM6DS3TR-C tables (ST datasheets, table 3 "mechanical characteristics",
 *      registers CTRL1_XL 0x10 and CTRL2_G 0x11) ------------------------------------------ */
typedef struct {
    uint16_t max_request_hz; /* a SET_RATE request up to this picks this entry */
    uint32_t rate_mhz;       /* nominal output data rate */
    uint8_t odr_code;        /* ODR_XL / ODR_G / ODR_FIFO bits [3:0] */
} lip_rate_entry_t;

typedef struct {
    uint16_t max_request;  /* a SET_RANGE request up to this picks this entry */
    uint16_t range;        /* announced full scale, g or deg/s */
    uint8_t fs_bits;       /* register bits (already shifted) */
    uint32_t scale;        /* ng/LSB or udps/LSB */
} lip_range_entry_t;

static const lip_rate_entry_t LIP_LSM6DS3_RATES[] = {
    {104u, 104000u, 0x4u}, {208u, 208000u, 0x5u}, {416u, 416000u, 0x6u}, {833u, 833000u, 0x7u}};
#define LIP_LSM6DS3_N_RATES (sizeof LIP_LSM6DS3_RATES / sizeof LIP_LSM6DS3_RATES[0])

/* CTRL1_XL FS_XL[3:2]: 00 = 2 g, 10 = 4 g, 11 = 8 g, 01 = 16 g; 0.061 / 0.122 / 0.244 / 0.488 mg/LSB */
static const lip_range_entry_t LIP_LSM6DS3_ACC_RANGES[] = {
    {2u, 2u, 0x0u << 2, 61000u}, {4u, 4u, 0x2u << 2, 122000u}, {8u, 8u, 0x3u << 2, 244000u}, {16u, 16u, 0x1u << 2, 488000u}};
#define LIP_LSM6DS3_N_ACC (sizeof LIP_LSM6DS3_ACC_RANGES / sizeof LIP_LSM6DS3_ACC_RANGES[0])

/* CTRL2_G FS_G[3:2] (00 = 245, 01 = 500, 10 = 1000, 11 = 2000 dps) and FS_125 (bit 1);
 * 4.375 / 8.75 / 17.5 / 35 / 70 mdps/LSB */
static const lip_range_entry_t LIP_LSM6DS3_GYR_RANGES[] = {{125u, 125u, 0x2u, 4375u},
                                                          {250u, 245u, 0x0u << 2, 8750u},
                                                          {500u, 500u, 0x1u << 2, 17500u},
                                                          {1000u, 1000u, 0x2u << 2, 35000u},
                                                          {2000u, 2000u, 0x3u << 2, 70000u}};
#define LIP_LSM6DS3_N_GYR (sizeof LIP_LSM6DS3_GYR_RANGES / sizeof LIP_LSM6DS3_GYR_RANGES[0])

/* Index of the lowest rate at or above requested_hz, or -1 if none. */
static inline int lip_pick_rate(uint16_t requested_hz) {
    size_t i;
    if (requested_hz == 0u) return -1;
    for (i = 0; i < LIP_LSM6DS3_N_RATES; i++)
        if (requested_hz <= LIP_LSM6DS3_RATES[i].max_request_hz) return (int)i;
    return -1;
}

/* Index of the smallest range at or above the request in a table, or -1 if none. */
static inline int lip_pick_range(const lip_range_entry_t *table, size_t n, uint16_t requested) {
    size_t i;
    if (requested == 0u) return -1;
    for (i = 0; i < n; i++)
        if (requested <= table[i].max_request) return (int)i;
    return -1;
}

/* ---- FIFO words -> samples ------------------------------------------------------------ */
/* With gyroscope and accelerometer in the FIFO at the same rate and no decimation the FIFO
 * pattern repeats every 6 words: Gx Gy Gz XLx XLy XLz (LSM6DS3TR-C datasheet, section 8). */
typedef struct {
    int16_t w[6];
    uint8_t pos; /* pattern position of the next word */
} lip_fifo_t;

static inline void lip_fifo_init(lip_fifo_t *f) {
    f->pos = 0;
}

/*
 * Feed bytes read from FIFO_DATA_OUT_L/H (little-endian words). pattern is FIFO_PATTERN
 * (FIFO_STATUS3/4) read just before them: the position of their first word. A mismatch with
 * the assembler's own position (after an overrun) drops the partial sample and resyncs.
 * Completed samples go to out (at most out_cap); returns how many.
 */
static inline size_t lip_fifo_feed(lip_fifo_t *f, uint16_t pattern, const uint8_t *bytes, size_t nbytes,
                                   lip_sample_t *out, size_t out_cap) {
    size_t i, n = 0;
    if (pattern < 6u && pattern != f->pos) f->pos = (uint8_t)pattern;
    for (i = 0; i + 1u < nbytes; i += 2u) {
        f->w[f->pos] = (int16_t)lip_get_u16(bytes + i);
        f->pos++;
        if (f->pos == 6u) {
            f->pos = 0;
            if (n < out_cap) {
                out[n].gyr[0] = f->w[0];
                out[n].gyr[1] = f->w[1];
                out[n].gyr[2] = f->w[2];
                out[n].acc[0] = f->w[3];
                out[n].acc[1] = f->w[4];
                out[n].acc[2] = f->w[5];
                n++;
            }
        }
    }
    return n;
}

/* ---- sample clock --------------------------------------------------------------------- */
/* Time is kept in 1/256 us (q8) on 64 bits; the MCU's 32-bit microsecond counter wraps
 * every 71.6 minutes and is extended here. */
typedef struct {
    int64_t next_q8;    /* time of the next sample */
    int64_t period_q8;  /* learnt sample period */
    int64_t nominal_q8; /* configured sample period */
    int64_t now_ext;    /* extended MCU time of the last batch, us */
    uint32_t last_now;  /* raw MCU time of the last batch */
    uint8_t locked;
} lip_clock_t;

static inline void lip_clock_init(lip_clock_t *c, uint32_t rate_mhz) {
    c->nominal_q8 = (int64_t)((256000000000ull + rate_mhz / 2u) / rate_mhz);
    c->period_q8 = c->nominal_q8;
    c->next_q8 = 0;
    c->now_ext = 0;
    c->last_now = 0;
    c->locked = 0;
}

/* Forget the phase (after an overrun or a restart); keeps the learnt period. */
static inline void lip_clock_unlock(lip_clock_t *c) { c->locked = 0; }

/*
 * Stamp k samples read from the sensor at MCU time now_us, with k_after newer samples still
 * waiting in the sensor FIFO (0 when it was emptied): the newest of the k was taken about
 * k_after + 1/2 sample periods before now_us. Writes k time stamps (us, wrapping u32).
 */
static inline void lip_clock_stamp(lip_clock_t *c, uint32_t now_us, size_t k, size_t k_after, uint32_t *t_us) {
    int64_t now_q8, newest, err, limit;
    size_t i;
    if (k == 0u) return;
    c->now_ext += (int64_t)(uint32_t)(now_us - c->last_now);
    c->last_now = now_us;
    now_q8 = c->now_ext * 256 - (int64_t)k_after * c->period_q8; /* time of the newest of the k, plus p/2 */
    if (!c->locked) {
        c->next_q8 = now_q8 - c->period_q8 / 2 - (int64_t)(k - 1u) * c->period_q8;
        c->locked = 1;
    }
    for (i = 0; i < k; i++) {
        int64_t t = c->next_q8 + (int64_t)i * c->period_q8;
        t_us[i] = (uint32_t)(uint64_t)((t + 128) >> 8);
    }
    newest = c->next_q8 + (int64_t)(k - 1u) * c->period_q8;
    c->next_q8 = newest + c->period_q8;
    /* expected: the newest sample half a period before the read */
    err = now_q8 - c->period_q8 / 2 - newest;
    if (err > 8 * c->period_q8 || err < -8 * c->period_q8) { /* lost lock: re-anchor */
        c->next_q8 = now_q8 + c->period_q8 / 2;
        return;
    }
    c->next_q8 += err / 16;                    /* phase */
    c->period_q8 += err / (256 * (int64_t)k);  /* frequency */
    limit = c->nominal_q8 / 20;                /* +- 5 % */
    if (c->period_q8 > c->nominal_q8 + limit) c->period_q8 = c->nominal_q8 + limit;
    if (c->period_q8 < c->nominal_q8 - limit) c->period_q8 = c->nominal_q8 - limit;
}

/* ---- ring buffer ---------------------------------------------------------------------- */
#ifndef LIP_RING_CAPACITY
#define LIP_RING_CAPACITY 512u /* 1.2 s at 416 Hz; 8 KiB */
#endif

typedef struct {
    lip_sample_t s[LIP_RING_CAPACITY];
    uint32_t t_us[LIP_RING_CAPACITY];
    size_t head;  /* oldest */
    size_t count;
    uint32_t dropped; /* samples overwritten since the last lip_ring_take_dropped */
} lip_ring_t;

static inline void lip_ring_clear(lip_ring_t *r) {
    r->head = 0;
    r->count = 0;
    r->dropped = 0;
}

/* Append a sample; when full the oldest is dropped (the stream stays live). */
static inline void lip_ring_push(lip_ring_t *r, uint32_t t_us, const lip_sample_t *s) {
    size_t tail;
    if (r->count == LIP_RING_CAPACITY) {
        r->head = (r->head + 1u) % LIP_RING_CAPACITY;
        r->count--;
        r->dropped++;
    }
    tail = (r->head + r->count) % LIP_RING_CAPACITY;
    r->s[tail] = *s;
    r->t_us[tail] = t_us;
    r->count++;
}

static inline const lip_sample_t *lip_ring_at(const lip_ring_t *r, size_t i) {
    return &r->s[(r->head + i) % LIP_RING_CAPACITY];
}

static inline uint32_t lip_ring_time_at(const lip_ring_t *r, size_t i) {
    return r->t_us[(r->head + i) % LIP_RING_CAPACITY];
}

static inline void lip_ring_pop(lip_ring_t *r, size_t n) {
    if (n > r->count) n = r->count;
    r->head = (r->head + n) % LIP_RING_CAPACITY;
    r->count -= n;
}

/* ---- device state machine and packetiser ---------------------------------------------- */
/* What the sketch must do after lip_device_command (bit mask). */
#define LIP_ACT_NONE 0x00u
#define LIP_ACT_SENSOR_START 0x01u       /* configure the sensor (rate, ranges) and start it */
#define LIP_ACT_SENSOR_STOP 0x02u        /* stop the sensor */
#define LIP_ACT_SENSOR_RECONFIGURE 0x04u /* apply new rate / ranges (while streaming) */
#define LIP_ACT_CONFIG_CHANGED 0x08u     /* update (and notify) the configuration characteristic */
#define LIP_ACT_LOG_ANSWER 0x10u         /* notifications wait on the Log characteristic (lip_device_log_peek) */

#define LIP_ANSWER_NONE 0u
#define LIP_ANSWER_LIST 1u
#define LIP_ANSWER_READ 2u
#define LIP_ANSWER_CLOCK 3u

typedef struct {
    lip_config_t cfg;
    uint16_t att_mtu;
    uint16_t seq;        /* of the next packet, or of the next logged record */
    uint8_t next_flags;  /* of the next packet or record */
    size_t peeked; /* samples in the packet last built by lip_device_peek */
    int rate_index, acc_index, gyr_index;
    lip_clock_t clock;
    lip_fifo_t fifo;
    lip_ring_t ring;
    /* MCU time, extended past the 32-bit microsecond counter's wrap (lip_device_tick) */
    int64_t mcu_ext;
    uint32_t mcu_last;
    /* UTC clock: utc = utc_at_set + (mcu_ext - mcu_at_set) once set */
    uint8_t clock_set;
    uint64_t utc_at_set;
    int64_t mcu_at_set;
    /* on-sensor logging (NULL store: the feature is off and the log opcodes are unknown) */
    lip_log_t *log;
    int log_slot;             /* slot being logged */
    size_t log_record_samples; /* samples per record (the last one may hold fewer) */
    uint8_t log_have_first;
    int64_t log_t_first_ext, log_t_last_ext; /* device times of the first and last sample logged */
    uint32_t log_t_last;
    /* the answer being sent on the Log characteristic */
    uint8_t answer;
    uint16_t ans_index; /* LIST: next slot to look at */
    int ans_slot;       /* READ: the session's slot */
    uint32_t ans_offset, ans_pos, ans_end;
    uint16_t ans_seq, ans_blocks;
    uint16_t ans_peeked; /* payload bytes of the block last built by lip_device_log_peek */
} lip_device_t;

static inline void lip_device_refresh_config(lip_device_t *d) {
    size_t spp = lip_samples_per_packet(d->att_mtu);
    if (spp > LIP_MAX_SAMPLES) spp = LIP_MAX_SAMPLES;
    d->cfg.version = (uint8_t)LIP_VERSION;
    d->cfg.rate_mhz = LIP_LSM6DS3_RATES[d->rate_index].rate_mhz;
    d->cfg.acc_range_g = (uint8_t)LIP_LSM6DS3_ACC_RANGES[d->acc_index].range;
    d->cfg.acc_scale_ng_per_lsb = LIP_LSM6DS3_ACC_RANGES[d->acc_index].scale;
    d->cfg.gyr_range_dps = LIP_LSM6DS3_GYR_RANGES[d->gyr_index].range;
    d->cfg.gyr_scale_udps_per_lsb = LIP_LSM6DS3_GYR_RANGES[d->gyr_index].scale;
    /* the configuration must never announce 0 samples per packet: 1 until the MTU allows it */
    d->cfg.samples_per_packet = (uint8_t)(spp ? spp : 1u);
    if (d->log != NULL) {
        d->cfg.features = LIP_FEATURE_LOG;
        d->cfg.log_sessions = lip_log_visible(d->log);
        d->cfg.log_capacity_bytes = lip_log_capacity(d->log);
        d->cfg.log_free_bytes = lip_log_free(d->log);
    } else {
        d->cfg.features = 0;
        d->cfg.log_state = LIP_LOG_STATE_IDLE;
        d->cfg.log_sessions = 0;
        d->cfg.log_capacity_bytes = 0;
        d->cfg.log_free_bytes = 0;
    }
}

/* Defaults: 416 Hz, +-16 g (running impacts reach 8-10 g at the pelvis), +-2000 dps, MTU 23. */
static inline void lip_device_init(lip_device_t *d) {
    d->att_mtu = 23;
    d->seq = 0;
    d->next_flags = 0;
    d->peeked = 0;
    d->rate_index = 2;
    d->acc_index = 3;
    d->gyr_index = 4;
    d->cfg.state = LIP_STATE_IDLE;
    d->cfg.last_opcode = 0;
    d->cfg.last_status = LIP_STATUS_OK;
    d->cfg.log_state = LIP_LOG_STATE_IDLE;
    d->mcu_ext = 0;
    d->mcu_last = 0;
    d->clock_set = 0;
    d->utc_at_set = 0;
    d->mcu_at_set = 0;
    d->log = NULL;
    d->log_slot = -1;
    d->log_record_samples = LIP_MAX_SAMPLES;
    d->log_have_first = 0;
    d->answer = LIP_ANSWER_NONE;
    d->ans_peeked = 0;
    lip_device_refresh_config(d);
    lip_clock_init(&d->clock, d->cfg.rate_mhz);
    lip_fifo_init(&d->fifo);
    lip_ring_clear(&d->ring);
}

/* Attach a mounted session store (lip_log_mount): the device announces LIP_FEATURE_LOG. */
static inline void lip_device_attach_store(lip_device_t *d, lip_log_t *store) {
    d->log = store;
    lip_device_refresh_config(d);
}

/* The MCU's microsecond counter now; call at least once an hour (every loop does). */
static inline void lip_device_tick(lip_device_t *d, uint32_t now_us) {
    d->mcu_ext += (int64_t)(uint32_t)(now_us - d->mcu_last);
    d->mcu_last = now_us;
}

/* UTC (us since 1970) of extended MCU time t_ext, or 0 while the clock is not set. */
static inline uint64_t lip_device_utc_at(const lip_device_t *d, int64_t t_ext) {
    if (!d->clock_set) return 0;
    return (uint64_t)((int64_t)d->utc_at_set + (t_ext - d->mcu_at_set));
}

/* The negotiated ATT MTU changed (or a new connection). */
static inline void lip_device_set_mtu(lip_device_t *d, uint16_t att_mtu) {
    d->att_mtu = att_mtu;
    lip_device_refresh_config(d);
}

static inline void lip_device_begin_stream(lip_device_t *d) {
    d->seq = 0;
    d->next_flags = LIP_FLAG_STREAM_START;
    d->peeked = 0;
    lip_ring_clear(&d->ring);
    lip_fifo_init(&d->fifo);
    lip_clock_init(&d->clock, d->cfg.rate_mhz);
}

/* The link dropped: stop streaming (the central starts again after reconnecting) and abandon
 * any answer on the Log characteristic; a logged session goes on (that is what it is for). */
static inline void lip_device_disconnected(lip_device_t *d) {
    d->cfg.state = LIP_STATE_IDLE;
    d->att_mtu = 23;
    d->answer = LIP_ANSWER_NONE;
    lip_device_refresh_config(d);
    if (d->cfg.log_state != LIP_LOG_STATE_LOGGING) lip_ring_clear(&d->ring);
}

static inline uint8_t lip_device_log_status(int r) {
    switch (r) {
        case LIP_LOG_OK:
            return LIP_STATUS_OK;
        case LIP_LOG_FULL:
            return LIP_STATUS_STORE_FULL;
        case LIP_LOG_NOT_FOUND:
            return LIP_STATUS_NOT_FOUND;
        case LIP_LOG_BUSY:
            return LIP_STATUS_BUSY;
        case LIP_LOG_DIGEST:
            return LIP_STATUS_DIGEST_MISMATCH;
        default:
            return LIP_STATUS_SENSOR_ERROR;
    }
}

/* Write one record of n queued samples to the store; returns LIP_ACT_* bits (the session ends
 * when the store is full or the flash fails). */
static inline uint8_t lip_device_log_record(lip_device_t *d, size_t n) {
    lip_sample_t s[LIP_MAX_SAMPLES];
    uint8_t rec[LIP_MAX_PACKET_SIZE];
    lip_log_entry_t *e;
    size_t i, len;
    uint32_t t0;
    int r;
    if (n > LIP_MAX_SAMPLES) n = LIP_MAX_SAMPLES;
    for (i = 0; i < n; i++) s[i] = *lip_ring_at(&d->ring, i);
    t0 = lip_ring_time_at(&d->ring, 0);
    len = lip_encode_packet(rec, sizeof rec, d->next_flags, d->seq, t0, s, n);
    r = lip_log_append(d->log, rec, len);
    if (r != LIP_LOG_OK) { /* full (or a flash error): the session ends with what it has */
        lip_log_end(d->log, LIP_ENTRY_FULL);
        d->log_slot = -1;
        d->cfg.log_state = LIP_LOG_STATE_IDLE;
        lip_ring_clear(&d->ring);
        lip_device_refresh_config(d);
        return LIP_ACT_SENSOR_STOP | LIP_ACT_CONFIG_CHANGED;
    }
    e = &d->log->slot[d->log_slot].e;
    if (!d->log_have_first) {
        /* the first sample's time: its stamp is at most a few ms from now (signed difference) */
        d->log_t_first_ext = d->mcu_ext - (int64_t)(int32_t)((uint32_t)d->mcu_ext - t0);
        d->log_t_last_ext = d->log_t_first_ext;
        d->log_t_last = t0;
        d->log_have_first = 1;
        if (d->clock_set) {
            e->start_utc_us = lip_device_utc_at(d, d->log_t_first_ext);
            e->clock_set_utc_us = d->utc_at_set;
            e->flags |= LIP_ENTRY_CLOCK_SET;
        }
        lip_log_checkpoint(d->log); /* the start time survives a power loss */
    }
    for (i = 0; i < n; i++) { /* unwrap the stamps past 2^32 us */
        uint32_t t = lip_ring_time_at(&d->ring, i);
        d->log_t_last_ext += (int64_t)(uint32_t)(t - d->log_t_last);
        d->log_t_last = t;
    }
    if (d->next_flags & LIP_FLAG_OVERFLOW) e->flags |= LIP_ENTRY_OVERFLOW;
    e->n_samples += (uint32_t)n;
    e->duration_ms =
        (uint32_t)((d->log_t_last_ext - d->log_t_first_ext + (int64_t)(1000000000u / d->cfg.rate_mhz) + 500) / 1000);
    lip_ring_pop(&d->ring, n);
    d->seq = (uint16_t)(d->seq + 1u);
    d->next_flags = 0;
    return LIP_ACT_NONE;
}

/* While logging: write every full record queued (call after each FIFO read). Returns LIP_ACT_* bits. */
static inline uint8_t lip_device_log_service(lip_device_t *d) {
    uint8_t act = LIP_ACT_NONE;
    while (d->cfg.log_state == LIP_LOG_STATE_LOGGING && d->ring.count >= d->log_record_samples && act == LIP_ACT_NONE)
        act = lip_device_log_record(d, d->log_record_samples);
    if (act == LIP_ACT_NONE && d->cfg.log_state == LIP_LOG_STATE_LOGGING) d->cfg.log_free_bytes = lip_log_free(d->log);
    return act;
}

static inline uint8_t lip_device_log_start(lip_device_t *d) {
    lip_log_entry_t e;
    int r;
    e.flags = 0;
    e.session_id = 0;
    e.size_bytes = 0;
    e.start_utc_us = 0;
    e.clock_set_utc_us = 0;
    e.n_samples = 0;
    e.duration_ms = 0;
    e.rate_mhz = d->cfg.rate_mhz;
    e.acc_scale_ng_per_lsb = d->cfg.acc_scale_ng_per_lsb;
    e.gyr_scale_udps_per_lsb = d->cfg.gyr_scale_udps_per_lsb;
    e.gyr_range_dps = d->cfg.gyr_range_dps;
    e.acc_range_g = d->cfg.acc_range_g;
    e.format = LIP_LOG_FORMAT_PACKETS;
    e.digest = 0;
    r = lip_log_begin(d->log, &e, &d->log_slot);
    if (r != LIP_LOG_OK) return lip_device_log_status(r);
    d->cfg.log_state = LIP_LOG_STATE_LOGGING;
    d->log_have_first = 0;
    lip_device_begin_stream(d); /* sequence 0, stream start flag, a fresh ring and clock */
    return LIP_STATUS_OK;
}

static inline void lip_device_log_stop(lip_device_t *d) {
    if (d->cfg.log_state != LIP_LOG_STATE_LOGGING) return;
    while (d->cfg.log_state == LIP_LOG_STATE_LOGGING && d->ring.count > 0u)
        lip_device_log_record(d, d->ring.count < d->log_record_samples ? d->ring.count : d->log_record_samples);
    if (d->cfg.log_state == LIP_LOG_STATE_LOGGING) lip_log_end(d->log, 0);
    d->log_slot = -1;
    d->cfg.log_state = LIP_LOG_STATE_IDLE;
    lip_ring_clear(&d->ring);
}

/* Handle a write to the control characteristic; returns LIP_ACT_* bits. */
static inline uint8_t lip_device_command(lip_device_t *d, const uint8_t *data, size_t len) {
    lip_command_t cmd;
    uint8_t status = lip_parse_command(data, len, &cmd);
    uint8_t act = LIP_ACT_CONFIG_CHANGED;
    const int logging = d->cfg.log_state == LIP_LOG_STATE_LOGGING;
    int i, j;
    d->cfg.last_opcode = cmd.opcode;
    if (status == LIP_STATUS_OK && d->log == NULL && cmd.opcode >= LIP_OP_LOG_START && cmd.opcode <= LIP_OP_GET_CLOCK)
        status = LIP_STATUS_UNKNOWN_OPCODE; /* no store: a plain version-1 device */
    if (status == LIP_STATUS_OK && logging &&
        (cmd.opcode == LIP_OP_START || cmd.opcode == LIP_OP_SET_RATE || cmd.opcode == LIP_OP_SET_RANGE ||
         cmd.opcode == LIP_OP_LOG_START || cmd.opcode == LIP_OP_LOG_READ))
        status = LIP_STATUS_BUSY; /* a logged session keeps one configuration; reads wait for its end */
    if (status == LIP_STATUS_OK) {
        switch (cmd.opcode) {
            case LIP_OP_LOG_START:
                if (d->cfg.state == LIP_STATE_STREAMING) {
                    status = LIP_STATUS_BUSY;
                    break;
                }
                status = lip_device_log_start(d);
                if (status == LIP_STATUS_OK) act |= LIP_ACT_SENSOR_START;
                break;
            case LIP_OP_LOG_STOP:
                if (logging) act |= LIP_ACT_SENSOR_STOP;
                lip_device_log_stop(d);
                break;
            case LIP_OP_LOG_LIST:
            case LIP_OP_LOG_READ:
                if (d->att_mtu < LIP_LOG_MIN_ATT_MTU) {
                    status = LIP_STATUS_MTU_TOO_SMALL;
                    break;
                }
                if (cmd.opcode == LIP_OP_LOG_LIST) {
                    d->answer = LIP_ANSWER_LIST;
                    d->ans_index = 0;
                } else {
                    i = lip_log_find(d->log, cmd.session_id);
                    if (i < 0) {
                        status = LIP_STATUS_NOT_FOUND;
                        break;
                    }
                    if (cmd.offset > d->log->slot[i].e.size_bytes) {
                        status = LIP_STATUS_BAD_ARGUMENT;
                        break;
                    }
                    d->answer = LIP_ANSWER_READ;
                    d->ans_slot = i;
                    d->ans_offset = d->ans_pos = cmd.offset;
                    d->ans_end = d->log->slot[i].e.size_bytes;
                    if (cmd.length != 0u && cmd.length < d->ans_end - cmd.offset) d->ans_end = cmd.offset + cmd.length;
                    d->ans_seq = 0;
                    d->ans_blocks = 0;
                }
                act |= LIP_ACT_LOG_ANSWER;
                break;
            case LIP_OP_LOG_ERASE:
                status = lip_device_log_status(lip_log_erase(d->log, cmd.session_id, cmd.digest));
                if (status == LIP_STATUS_OK) d->answer = LIP_ANSWER_NONE; /* slots moved: any answer is void */
                if (logging && status == LIP_STATUS_OK) d->log_slot = d->log->active;
                break;
            case LIP_OP_SET_CLOCK:
                d->clock_set = 1;
                d->utc_at_set = cmd.utc_us;
                d->mcu_at_set = d->mcu_ext;
                break;
            case LIP_OP_GET_CLOCK:
                d->answer = LIP_ANSWER_CLOCK;
                act |= LIP_ACT_LOG_ANSWER;
                break;
            case LIP_OP_START:
                if (lip_samples_per_packet(d->att_mtu) == 0u) {
                    status = LIP_STATUS_MTU_TOO_SMALL;
                    break;
                }
                d->cfg.state = LIP_STATE_STREAMING;
                lip_device_begin_stream(d);
                act |= LIP_ACT_SENSOR_START;
                break;
            case LIP_OP_STOP:
                if (d->cfg.state == LIP_STATE_STREAMING) act |= LIP_ACT_SENSOR_STOP;
                d->cfg.state = LIP_STATE_IDLE;
                break;
            case LIP_OP_SET_RATE:
                i = lip_pick_rate(cmd.rate_hz);
                if (i < 0) {
                    status = LIP_STATUS_BAD_ARGUMENT;
                    break;
                }
                d->rate_index = i;
                break;
            case LIP_OP_SET_RANGE:
                i = lip_pick_range(LIP_LSM6DS3_ACC_RANGES, LIP_LSM6DS3_N_ACC, cmd.acc_range_g);
                j = lip_pick_range(LIP_LSM6DS3_GYR_RANGES, LIP_LSM6DS3_N_GYR, cmd.gyr_range_dps);
                if (i < 0 || j < 0) {
                    status = LIP_STATUS_BAD_ARGUMENT;
                    break;
                }
                d->acc_index = i;
                d->gyr_index = j;
                break;
            default:
                status = LIP_STATUS_UNKNOWN_OPCODE;
                break;
        }
        if (status == LIP_STATUS_OK && (cmd.opcode == LIP_OP_SET_RATE || cmd.opcode == LIP_OP_SET_RANGE)) {
            lip_device_refresh_config(d);
            if (d->cfg.state == LIP_STATE_STREAMING) { /* a new configuration is a new stream */
                lip_device_begin_stream(d);
                act |= LIP_ACT_SENSOR_RECONFIGURE;
            } else {
                lip_clock_init(&d->clock, d->cfg.rate_mhz);
            }
        }
    }
    d->cfg.last_status = status;
    lip_device_refresh_config(d);
    return act;
}

/* Current configuration characteristic value (LIP_CONFIG_SIZE bytes). */
static inline size_t lip_device_config_value(const lip_device_t *d, uint8_t *out, size_t cap) {
    return lip_encode_config(out, cap, &d->cfg);
}

/*
 * Hand over bytes read from the sensor FIFO (see lip_fifo_feed) at MCU time now_us; at most
 * LIP_FIFO_CHUNK_SAMPLES samples' worth per call. pattern: FIFO_PATTERN before the read.
 * samples_after: complete samples still in the sensor FIFO after these (0 when emptied).
 * overrun: the sensor reported a FIFO overrun (samples were lost in the sensor).
 * The samples are assembled, stamped and queued; returns how many.
 */
#define LIP_FIFO_CHUNK_SAMPLES 64u
static inline size_t lip_device_fifo_data(lip_device_t *d, uint32_t now_us, uint16_t pattern, const uint8_t *bytes,
                                          size_t nbytes, size_t samples_after, int overrun) {
    lip_sample_t batch[LIP_FIFO_CHUNK_SAMPLES + 1u];
    uint32_t stamps[LIP_FIFO_CHUNK_SAMPLES + 1u];
    size_t n, i;
    if (d->cfg.state != LIP_STATE_STREAMING && d->cfg.log_state != LIP_LOG_STATE_LOGGING) return 0;
    if (nbytes > LIP_FIFO_CHUNK_SAMPLES * 12u) nbytes = LIP_FIFO_CHUNK_SAMPLES * 12u;
    if (overrun) {
        d->next_flags |= LIP_FLAG_OVERFLOW;
        lip_clock_unlock(&d->clock);
        lip_fifo_init(&d->fifo);
    }
    n = lip_fifo_feed(&d->fifo, pattern, bytes, nbytes, batch, LIP_FIFO_CHUNK_SAMPLES + 1u);
    if (n == 0u) return 0;
    lip_clock_stamp(&d->clock, now_us, n, samples_after, stamps);
    for (i = 0; i < n; i++) lip_ring_push(&d->ring, stamps[i], &batch[i]);
    if (d->ring.dropped) {
        d->next_flags |= LIP_FLAG_OVERFLOW;
        d->ring.dropped = 0;
    }
    return n;
}

/* Queue one already-stamped sample (for sensors without a FIFO, or tests). */
static inline void lip_device_push(lip_device_t *d, uint32_t t_us, const lip_sample_t *s) {
    if (d->cfg.state != LIP_STATE_STREAMING && d->cfg.log_state != LIP_LOG_STATE_LOGGING) return;
    lip_ring_push(&d->ring, t_us, s);
    if (d->ring.dropped) {
        d->next_flags |= LIP_FLAG_OVERFLOW;
        d->ring.dropped = 0;
    }
}

/*
 * Build the next packet into out when a full one is queued (or, with force, whatever is
 * queued). Returns its length, 0 if nothing to send. The samples stay queued until
 * lip_device_commit (call it only when the notification was accepted by the stack).
 */
static inline size_t lip_device_peek(lip_device_t *d, uint8_t *out, size_t cap, int force) {
    lip_sample_t s[LIP_MAX_SAMPLES];
    size_t spp = d->cfg.samples_per_packet, n, i;
    d->peeked = 0;
    if (d->cfg.state != LIP_STATE_STREAMING || lip_samples_per_packet(d->att_mtu) == 0u) return 0;
    if (d->ring.count < spp && !(force && d->ring.count > 0u)) return 0;
    n = d->ring.count < spp ? d->ring.count : spp;
    for (i = 0; i < n; i++) s[i] = *lip_ring_at(&d->ring, i);
    i = lip_encode_packet(out, cap, d->next_flags, d->seq, lip_ring_time_at(&d->ring, 0), s, n);
    if (i) d->peeked = n;
    return i;
}

/* The packet from lip_device_peek was sent: drop its samples, advance the sequence number. */
static inline void lip_device_commit(lip_device_t *d) {
    if (d->peeked == 0u) return;
    lip_ring_pop(&d->ring, d->peeked);
    d->peeked = 0;
    d->seq = (uint16_t)(d->seq + 1u);
    d->next_flags = 0;
}

/*
 * Build the next notification of the Log characteristic (a list entry, list end, block,
 * read end or clock) into out; returns its length, 0 when no answer is pending. Like the data
 * packets it stays pending until lip_device_log_commit (call it when the stack accepted it).
 */
static inline size_t lip_device_log_peek(lip_device_t *d, uint8_t *out, size_t cap) {
    d->ans_peeked = 0;
    if (d->log == NULL) return 0;
    if (d->answer == LIP_ANSWER_LIST) {
        lip_log_list_end_t le;
        while (d->ans_index < d->log->count && d->log->slot[d->ans_index].erased) d->ans_index++;
        if (d->ans_index < d->log->count) return lip_encode_log_entry(out, cap, &d->log->slot[d->ans_index].e);
        le.n_sessions = lip_log_visible(d->log);
        le.capacity_bytes = lip_log_capacity(d->log);
        le.free_bytes = lip_log_free(d->log);
        return lip_encode_log_list_end(out, cap, &le);
    }
    if (d->answer == LIP_ANSWER_READ) {
        if (d->ans_pos < d->ans_end) {
            lip_log_block_t b;
            size_t room = lip_log_block_payload(d->att_mtu), left = d->ans_end - d->ans_pos;
            if (cap < LIP_LOG_BLOCK_OVERHEAD + 1u) return 0;
            if (room > cap - LIP_LOG_BLOCK_OVERHEAD) room = cap - LIP_LOG_BLOCK_OVERHEAD;
            if (room > left) room = left;
            if (room == 0u || lip_log_read(d->log, d->ans_slot, d->ans_pos, out + 12, room) != LIP_LOG_OK) return 0;
            b.session_id = d->log->slot[d->ans_slot].e.session_id;
            b.seq = d->ans_seq;
            b.offset = d->ans_pos;
            b.length = (uint16_t)room;
            b.payload = NULL; /* already in place */
            d->ans_peeked = (uint16_t)room;
            return lip_encode_log_block(out, cap, &b);
        } else {
            lip_log_read_end_t re;
            re.session_id = d->log->slot[d->ans_slot].e.session_id;
            re.offset = d->ans_offset;
            re.end = d->ans_end;
            re.blocks = d->ans_blocks;
            return lip_encode_log_read_end(out, cap, &re);
        }
    }
    if (d->answer == LIP_ANSWER_CLOCK) {
        lip_log_clock_t c;
        c.flags = d->clock_set ? LIP_CLOCK_SET : 0u;
        c.now_utc_us = lip_device_utc_at(d, d->mcu_ext);
        c.set_utc_us = d->clock_set ? d->utc_at_set : 0u;
        return lip_encode_log_clock(out, cap, &c);
    }
    return 0;
}

/* The message from lip_device_log_peek was sent: move on. */
static inline void lip_device_log_commit(lip_device_t *d) {
    if (d->answer == LIP_ANSWER_LIST) {
        if (d->ans_index < d->log->count)
            d->ans_index++;
        else
            d->answer = LIP_ANSWER_NONE;
    } else if (d->answer == LIP_ANSWER_READ) {
        if (d->ans_peeked) {
            d->ans_pos += d->ans_peeked;
            d->ans_seq = (uint16_t)(d->ans_seq + 1u);
            d->ans_blocks = (uint16_t)(d->ans_blocks + 1u);
        } else {
            d->answer = LIP_ANSWER_NONE;
        }
    } else {
        d->answer = LIP_ANSWER_NONE;
    }
    d->ans_peeked = 0;
}

#ifdef __cplusplus
}
#endif

#endif /* LIP_DEVICE_H */
