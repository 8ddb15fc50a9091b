/*
 * lumbar_imu_protocol.h - reference encoder of the lumbar IMU protocol, version 1.
 *
 * Header-only, C99, no dynamic allocation, no floating point, no dependencies beyond
 * <stdint.h> and <stddef.h>: suitable for nRF52840, ESP32 or any other microcontroller.
 * The specification is firmware_protocol/PROTOCOL.md; the Python codec
 * (firmware_protocol/codec.py) decodes what this encodes, byte for byte, and the test suite
 * checks it (tests/test_c_encoder.py compiles make_vectors.c with gcc).
 *
 * Packet (one notification of the data characteristic), little-endian:
 *
 *   offset  size   field
 *   0       1      version (LIP_VERSION)
 *   1       1      flags (LIP_FLAG_*)
 *   2       2      sequence number, wraps at 65536
 *   4       4      device time of the first sample, microseconds, wraps at 2^32
 *   8       1      n, number of samples, 1 .. LIP_MAX_SAMPLES
 *   9       12 n   samples: int16 acc x, y, z, gyr x, y, z
 *   9+12n   2      CRC-16/CCITT-FALSE of bytes 0 .. 8+12n
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LUMBAR_IMU_PROTOCOL_H
#define LUMBAR_IMU_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sizes and identifiers ------------------------------------------------------------ */
#define LIP_VERSION 1u
#define LIP_HEADER_SIZE 9u
#define LIP_CRC_SIZE 2u
#define LIP_SAMPLE_SIZE 12u
#define LIP_OVERHEAD (LIP_HEADER_SIZE + LIP_CRC_SIZE)
#define LIP_MAX_ATTRIBUTE_SIZE 512u
#define LIP_MAX_SAMPLES ((LIP_MAX_ATTRIBUTE_SIZE - LIP_OVERHEAD) / LIP_SAMPLE_SIZE) /* 41 */
#define LIP_MAX_PACKET_SIZE (LIP_OVERHEAD + LIP_SAMPLE_SIZE * LIP_MAX_SAMPLES)     /* 503 */
#define LIP_CONFIG_SIZE 20u

#define LIP_FLAG_STREAM_START 0x01u
#define LIP_FLAG_OVERFLOW 0x02u

#define LIP_OP_START 0x01u
#define LIP_OP_STOP 0x02u
#define LIP_OP_SET_RATE 0x03u
#define LIP_OP_SET_RANGE 0x04u

#define LIP_STATUS_OK 0u
#define LIP_STATUS_UNKNOWN_OPCODE 1u
#define LIP_STATUS_BAD_LENGTH 2u
#define LIP_STATUS_BAD_ARGUMENT 3u
#define LIP_STATUS_MTU_TOO_SMALL 4u
#define LIP_STATUS_SENSOR_ERROR 5u
#define LIP_STATUS_BUSY 6u

#define LIP_STATE_IDLE 0u
#define LIP_STATE_STREAMING 1u

/* 128-bit UUIDs as strings and as the little-endian byte arrays BLE stacks take
 * (Bluefruit BLEUuid, NimBLE ble_uuid128_t, Zephyr BT_UUID_128_ENCODE order reversed). */
#define LIP_SERVICE_UUID "80eb0001-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_DATA_UUID "80eb0002-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_CONTROL_UUID "80eb0003-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_CONFIG_UUID "80eb0004-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_UUID128_LE(short16)                                                              \
    {0x0f, 0xeb, 0xd6, 0x91, 0x9f, 0x8d, 0xe3, 0x90, 0xf5, 0x4f, 0x5b, 0x07, (uint8_t)((short16) & 0xFFu), \
     (uint8_t)(((short16) >> 8) & 0xFFu), 0xeb, 0x80}

/* ---- types ---------------------------------------------------------------------------- */
typedef struct {
    int16_t acc[3]; /* raw accelerometer counts, x y z */
    int16_t gyr[3]; /* raw gyroscope counts, x y z */
} lip_sample_t;

typedef struct {
    uint8_t version;         /* LIP_VERSION */
    uint8_t state;           /* LIP_STATE_* */
    uint8_t last_opcode;     /* last command received */
    uint8_t last_status;     /* LIP_STATUS_* of that command */
    uint32_t rate_mhz;       /* output data rate, millihertz */
    uint8_t acc_range_g;     /* +- g */
    uint8_t samples_per_packet;
    uint16_t gyr_range_dps;  /* +- deg/s */
    uint32_t acc_scale_ng_per_lsb;   /* nano-g per count */
    uint32_t gyr_scale_udps_per_lsb; /* micro-deg/s per count */
} lip_config_t;

typedef struct {
    uint8_t opcode;
    uint16_t rate_hz;       /* SET_RATE */
    uint8_t acc_range_g;    /* SET_RANGE */
    uint16_t gyr_range_dps; /* SET_RANGE */
} lip_command_t;

/* ---- little-endian helpers ------------------------------------------------------------ */
static inline void lip_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void lip_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t lip_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }

static inline uint32_t lip_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR ---------- */
static inline uint16_t lip_crc16_update(uint16_t crc, uint8_t byte) {
    uint32_t c = (uint32_t)crc ^ ((uint32_t)byte << 8);
    int i;
    for (i = 0; i < 8; i++) {
        c = (c & 0x8000u) ? ((c << 1) ^ 0x1021u) : (c << 1);
    }
    return (uint16_t)(c & 0xFFFFu);
}

static inline uint16_t lip_crc16(const uint8_t *data, size_t len) {
    uint16_t crc = 0xFFFFu;
    size_t i;
    for (i = 0; i < len; i++) crc = lip_crc16_update(crc, data[i]);
    return crc;
}

/* ---- packets -------------------------------------------------------------------------- */
/* Size in bytes of a packet of n samples. */
static inline size_t lip_packet_size(size_t n) { return LIP_OVERHEAD + LIP_SAMPLE_SIZE * n; }

/* Samples that fit one notification at ATT MTU att_mtu (payload att_mtu - 3); 0 if none. */
static inline size_t lip_samples_per_packet(uint16_t att_mtu) {
    size_t payload;
    if (att_mtu < 3u) return 0;
    payload = (size_t)att_mtu - 3u;
    if (payload > LIP_MAX_ATTRIBUTE_SIZE) payload = LIP_MAX_ATTRIBUTE_SIZE;
    if (payload < LIP_OVERHEAD + LIP_SAMPLE_SIZE) return 0;
    return (payload - LIP_OVERHEAD) / LIP_SAMPLE_SIZE;
}

/*
 * Encode a packet of n samples into out (capacity cap bytes).
 * Returns the packet length, or 0 if n is 0 or above LIP_MAX_SAMPLES, cap is too small, or
 * flags has reserved bits set.
 */
static inline size_t lip_encode_packet(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, uint32_t t_us,
                                       const lip_sample_t *samples, size_t n) {
    size_t i, k, len, off;
    if (n == 0u || n > LIP_MAX_SAMPLES) return 0;
    if (flags & (uint8_t)~(LIP_FLAG_STREAM_START | LIP_FLAG_OVERFLOW)) return 0;
    len = lip_packet_size(n);
    if (cap < len) return 0;
    out[0] = (uint8_t)LIP_VERSION;
    out[1] = flags;
    lip_put_u16(out + 2, seq);
    lip_put_u32(out + 4, t_us);
    out[8] = (uint8_t)n;
    off = LIP_HEADER_SIZE;
    for (i = 0; i < n; i++) {
        for (k = 0; k < 3u; k++, off += 2u) lip_put_u16(out + off, (uint16_t)samples[i].acc[k]);
        for (k = 0; k < 3u; k++, off += 2u) lip_put_u16(out + off, (uint16_t)samples[i].gyr[k]);
    }
    lip_put_u16(out + off, lip_crc16(out, off));
    return len;
}

/* ---- configuration characteristic ------------------------------------------------------ */
static inline size_t lip_encode_config(uint8_t *out, size_t cap, const lip_config_t *c) {
    if (cap < LIP_CONFIG_SIZE) return 0;
    out[0] = c->version;
    out[1] = c->state;
    out[2] = c->last_opcode;
    out[3] = c->last_status;
    lip_put_u32(out + 4, c->rate_mhz);
    out[8] = c->acc_range_g;
    out[9] = c->samples_per_packet;
    lip_put_u16(out + 10, c->gyr_range_dps);
    lip_put_u32(out + 12, c->acc_scale_ng_per_lsb);
    lip_put_u32(out + 16, c->gyr_scale_udps_per_lsb);
    return LIP_CONFIG_SIZE;
}

/* ---- commands (control characteristic) ------------------------------------------------- */
/* Parse a command; returns LIP_STATUS_OK and fills *cmd, or the status to report. */
static inline uint8_t lip_parse_command(const uint8_t *data, size_t len, lip_command_t *cmd) {
    cmd->opcode = 0;
    cmd->rate_hz = 0;
    cmd->acc_range_g = 0;
    cmd->gyr_range_dps = 0;
    if (len == 0u) return LIP_STATUS_BAD_LENGTH;
    cmd->opcode = data[0];
    switch (data[0]) {
        case LIP_OP_START:
        case LIP_OP_STOP:
            return len == 1u ? LIP_STATUS_OK : LIP_STATUS_BAD_LENGTH;
        case LIP_OP_SET_RATE:
            if (len != 3u) return LIP_STATUS_BAD_LENGTH;
            cmd->rate_hz = lip_get_u16(data + 1);
            return cmd->rate_hz ? LIP_STATUS_OK : LIP_STATUS_BAD_ARGUMENT;
        case LIP_OP_SET_RANGE:
            if (len != 4u) return LIP_STATUS_BAD_LENGTH;
            cmd->acc_range_g = data[1];
            cmd->gyr_range_dps = lip_get_u16(data + 2);
            return (cmd->acc_range_g && cmd->gyr_range_dps) ? LIP_STATUS_OK : LIP_STATUS_BAD_ARGUMENT;
        default:
            return LIP_STATUS_UNKNOWN_OPCODE;
    }
}

/* Encoders of the commands (host side and tests). Each returns the length written. */
static inline size_t lip_encode_cmd_start(uint8_t *out) {
    out[0] = LIP_OP_START;
    return 1;
}

static inline size_t lip_encode_cmd_stop(uint8_t *out) {
    out[0] = LIP_OP_STOP;
    return 1;
}

static inline size_t lip_encode_cmd_set_rate(uint8_t *out, uint16_t rate_hz) {
    out[0] = LIP_OP_SET_RATE;
    lip_put_u16(out + 1, rate_hz);
    return 3;
}

static inline size_t lip_encode_cmd_set_range(uint8_t *out, uint8_t acc_range_g, uint16_t gyr_range_dps) {
    out[0] = LIP_OP_SET_RANGE;
    out[1] = acc_range_g;
    lip_put_u16(out + 2, gyr_range_dps);
    return 4;
}

#ifdef __cplusplus
}
#endif

#endif /* LUMBAR_IMU_PROTOCOL_H */
