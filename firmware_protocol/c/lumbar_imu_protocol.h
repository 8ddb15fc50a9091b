/*
 * lumbar_imu_protocol.h - reference encoder and decoder of the lumbar IMU protocol, version 1,
 * with the on-sensor logging extension (feature LIP_FEATURE_LOG, PROTOCOL.md section 7).
 *
 * Header-only, C99, no dynamic allocation, no floating point, no dependencies beyond
 * <stdint.h> and <stddef.h>: suitable for nRF52840, ESP32 or any other microcontroller.
 * The specification is firmware_protocol/PROTOCOL.md; the Python codec
 * (firmware_protocol/codec.py, firmware_protocol/logbook.py) decodes what this encodes, byte
 * for byte, and this decodes what the Python codec encodes; the test suite checks both
 * against the shared vectors (tests/test_c_encoder.py compiles make_vectors.c and
 * decode_vectors.c with gcc).
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
#define LIP_CONFIG_EXT_SIZE 32u /* with the features and log fields appended */

#define LIP_FLAG_STREAM_START 0x01u
#define LIP_FLAG_OVERFLOW 0x02u

#define LIP_OP_START 0x01u
#define LIP_OP_STOP 0x02u
#define LIP_OP_SET_RATE 0x03u
#define LIP_OP_SET_RANGE 0x04u
#define LIP_OP_LOG_START 0x10u
#define LIP_OP_LOG_STOP 0x11u
#define LIP_OP_LOG_LIST 0x12u
#define LIP_OP_LOG_READ 0x13u
#define LIP_OP_LOG_ERASE 0x14u
#define LIP_OP_SET_CLOCK 0x15u
#define LIP_OP_GET_CLOCK 0x16u

#define LIP_STATUS_OK 0u
#define LIP_STATUS_UNKNOWN_OPCODE 1u
#define LIP_STATUS_BAD_LENGTH 2u
#define LIP_STATUS_BAD_ARGUMENT 3u
#define LIP_STATUS_MTU_TOO_SMALL 4u
#define LIP_STATUS_SENSOR_ERROR 5u
#define LIP_STATUS_BUSY 6u
#define LIP_STATUS_STORE_FULL 7u
#define LIP_STATUS_NOT_FOUND 8u
#define LIP_STATUS_DIGEST_MISMATCH 9u

#define LIP_STATE_IDLE 0u
#define LIP_STATE_STREAMING 1u

#define LIP_FEATURE_LOG 0x01u
#define LIP_LOG_STATE_IDLE 0u
#define LIP_LOG_STATE_LOGGING 1u

/* on-sensor logging: messages of the Log characteristic (PROTOCOL.md section 7) */
#define LIP_LOG_MSG_ENTRY 0x01u
#define LIP_LOG_MSG_LIST_END 0x02u
#define LIP_LOG_MSG_BLOCK 0x03u
#define LIP_LOG_MSG_READ_END 0x04u
#define LIP_LOG_MSG_CLOCK 0x05u
#define LIP_LOG_ENTRY_SIZE 54u
#define LIP_LOG_LIST_END_SIZE 14u
#define LIP_LOG_BLOCK_OVERHEAD 14u
#define LIP_LOG_READ_END_SIZE 16u
#define LIP_LOG_CLOCK_SIZE 26u
#define LIP_LOG_MAX_BLOCK_PAYLOAD (LIP_MAX_ATTRIBUTE_SIZE - LIP_LOG_BLOCK_OVERHEAD) /* 498 */
#define LIP_LOG_MIN_ATT_MTU 64u
#define LIP_LOG_FORMAT_PACKETS 1u

#define LIP_ENTRY_ACTIVE 0x01u
#define LIP_ENTRY_CLOCK_SET 0x02u
#define LIP_ENTRY_OVERFLOW 0x04u
#define LIP_ENTRY_FULL 0x08u
#define LIP_ENTRY_RECOVERED 0x10u
#define LIP_CLOCK_SET 0x01u

/* results of the decoders */
#define LIP_DECODE_OK 0
#define LIP_DECODE_TRUNCATED 1
#define LIP_DECODE_OVERSIZED 2
#define LIP_DECODE_CORRUPT 3
#define LIP_DECODE_KIND 4 /* unknown message kind or protocol version */

/* 128-bit UUIDs as strings and as the little-endian byte arrays BLE stacks take
 * (Bluefruit BLEUuid, NimBLE ble_uuid128_t, Zephyr BT_UUID_128_ENCODE order reversed). */
#define LIP_SERVICE_UUID "80eb0001-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_DATA_UUID "80eb0002-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_CONTROL_UUID "80eb0003-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_CONFIG_UUID "80eb0004-075b-4ff5-90e3-8d9f91d6eb0f"
#define LIP_LOG_UUID "80eb0005-075b-4ff5-90e3-8d9f91d6eb0f"
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
    /* appended (LIP_CONFIG_EXT_SIZE) when features is not 0 */
    uint8_t features;            /* LIP_FEATURE_* */
    uint8_t log_state;           /* LIP_LOG_STATE_* */
    uint16_t log_sessions;       /* sessions stored */
    uint32_t log_capacity_bytes; /* bytes of session data the empty store holds */
    uint32_t log_free_bytes;     /* bytes still free */
} lip_config_t;

typedef struct {
    uint8_t opcode;
    uint16_t rate_hz;       /* SET_RATE */
    uint8_t acc_range_g;    /* SET_RANGE */
    uint16_t gyr_range_dps; /* SET_RANGE */
    uint16_t session_id;    /* LOG_READ, LOG_ERASE */
    uint32_t offset;        /* LOG_READ */
    uint32_t length;        /* LOG_READ (0: to the end) */
    uint32_t digest;        /* LOG_ERASE */
    uint64_t utc_us;        /* SET_CLOCK */
} lip_command_t;

/* One stored session, as LOG_LIST announces it. */
typedef struct {
    uint8_t flags; /* LIP_ENTRY_* */
    uint16_t session_id;
    uint32_t size_bytes;
    uint64_t start_utc_us;     /* device clock at the first sample (0: clock not set) */
    uint64_t clock_set_utc_us; /* the last SET_CLOCK before the session started */
    uint32_t n_samples;
    uint32_t duration_ms;
    uint32_t rate_mhz;
    uint32_t acc_scale_ng_per_lsb;
    uint32_t gyr_scale_udps_per_lsb;
    uint16_t gyr_range_dps;
    uint8_t acc_range_g;
    uint8_t format; /* LIP_LOG_FORMAT_PACKETS */
    uint32_t digest; /* CRC-32 of the session's data */
} lip_log_entry_t;

typedef struct {
    uint16_t n_sessions;
    uint32_t capacity_bytes;
    uint32_t free_bytes;
} lip_log_list_end_t;

typedef struct {
    uint16_t session_id;
    uint16_t seq;            /* block number within the answer */
    uint32_t offset;         /* byte offset of the payload in the session's data */
    uint16_t length;         /* payload bytes */
    const uint8_t *payload;  /* decoder: points into the message */
} lip_log_block_t;

typedef struct {
    uint16_t session_id;
    uint32_t offset;
    uint32_t end;
    uint16_t blocks;
} lip_log_read_end_t;

typedef struct {
    uint8_t flags; /* LIP_CLOCK_SET */
    uint64_t now_utc_us;
    uint64_t set_utc_us;
} lip_log_clock_t;

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

static inline void lip_put_u64(uint8_t *p, uint64_t v) {
    lip_put_u32(p, (uint32_t)(v & 0xFFFFFFFFu));
    lip_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t lip_get_u64(const uint8_t *p) {
    return (uint64_t)lip_get_u32(p) | ((uint64_t)lip_get_u32(p + 4) << 32);
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

/* ---- CRC-32/ISO-HDLC (zlib's crc32): reflected poly 0xEDB88320, init and final XOR 0xFFFFFFFF.
 * Chains like zlib: lip_crc32(lip_crc32(0, a, na), b, nb) == lip_crc32(0, ab, na + nb).
 * Check value: lip_crc32(0, "123456789", 9) == 0xCBF43926. A session's digest. ------------ */
static inline uint32_t lip_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        for (k = 0; k < 8; k++) crc = (crc & 1u) ? ((crc >> 1) ^ 0xEDB88320u) : (crc >> 1);
    }
    return ~crc;
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

/*
 * Check a data packet (or a logged record): LIP_DECODE_OK and *n = its sample count, or the
 * first failure in the order of PROTOCOL.md section 2 (KIND for another version).
 */
static inline int lip_check_packet(const uint8_t *data, size_t len, size_t *n) {
    size_t want;
    *n = 0;
    if (len < 1u) return LIP_DECODE_TRUNCATED;
    if (data[0] != LIP_VERSION) return LIP_DECODE_KIND;
    if (len < lip_packet_size(1)) return LIP_DECODE_TRUNCATED;
    if (data[8] < 1u || data[8] > LIP_MAX_SAMPLES) return LIP_DECODE_CORRUPT;
    want = lip_packet_size(data[8]);
    if (len < want) return LIP_DECODE_TRUNCATED;
    if (len > want) return LIP_DECODE_OVERSIZED;
    if (lip_get_u16(data + want - 2u) != lip_crc16(data, want - 2u)) return LIP_DECODE_CORRUPT;
    *n = data[8];
    return LIP_DECODE_OK;
}

/* Decode a data packet: LIP_DECODE_OK and the header fields and samples (at most cap), or the
 * failure of lip_check_packet. */
static inline int lip_decode_packet(const uint8_t *data, size_t len, uint8_t *flags, uint16_t *seq, uint32_t *t_us,
                                    lip_sample_t *samples, size_t cap, size_t *n) {
    size_t i, k, off;
    int r = lip_check_packet(data, len, n);
    if (r != LIP_DECODE_OK) return r;
    if (*n > cap) return LIP_DECODE_OVERSIZED;
    *flags = data[1];
    *seq = lip_get_u16(data + 2);
    *t_us = lip_get_u32(data + 4);
    off = LIP_HEADER_SIZE;
    for (i = 0; i < *n; i++) {
        for (k = 0; k < 3u; k++, off += 2u) samples[i].acc[k] = (int16_t)lip_get_u16(data + off);
        for (k = 0; k < 3u; k++, off += 2u) samples[i].gyr[k] = (int16_t)lip_get_u16(data + off);
    }
    return LIP_DECODE_OK;
}

/* ---- configuration characteristic ------------------------------------------------------ */
/* 20 bytes, or LIP_CONFIG_EXT_SIZE when c->features is not 0 (returns the length, 0 if cap is too small). */
static inline size_t lip_encode_config(uint8_t *out, size_t cap, const lip_config_t *c) {
    size_t len = c->features ? LIP_CONFIG_EXT_SIZE : LIP_CONFIG_SIZE;
    if (cap < len) return 0;
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
    if (len == LIP_CONFIG_EXT_SIZE) {
        out[20] = c->features;
        out[21] = c->log_state;
        lip_put_u16(out + 22, c->log_sessions);
        lip_put_u32(out + 24, c->log_capacity_bytes);
        lip_put_u32(out + 28, c->log_free_bytes);
    }
    return len;
}

/* Decode a configuration value (host side): LIP_DECODE_OK, KIND (another version) or TRUNCATED.
 * The appended fields are read when there are at least LIP_CONFIG_EXT_SIZE bytes, else 0. */
static inline int lip_decode_config(const uint8_t *data, size_t len, lip_config_t *c) {
    if (len >= 1u && data[0] != LIP_VERSION) return LIP_DECODE_KIND;
    if (len < LIP_CONFIG_SIZE) return LIP_DECODE_TRUNCATED;
    c->version = data[0];
    c->state = data[1];
    c->last_opcode = data[2];
    c->last_status = data[3];
    c->rate_mhz = lip_get_u32(data + 4);
    c->acc_range_g = data[8];
    c->samples_per_packet = data[9];
    c->gyr_range_dps = lip_get_u16(data + 10);
    c->acc_scale_ng_per_lsb = lip_get_u32(data + 12);
    c->gyr_scale_udps_per_lsb = lip_get_u32(data + 16);
    c->features = len >= LIP_CONFIG_EXT_SIZE ? data[20] : 0u;
    c->log_state = len >= LIP_CONFIG_EXT_SIZE ? data[21] : 0u;
    c->log_sessions = len >= LIP_CONFIG_EXT_SIZE ? lip_get_u16(data + 22) : 0u;
    c->log_capacity_bytes = len >= LIP_CONFIG_EXT_SIZE ? lip_get_u32(data + 24) : 0u;
    c->log_free_bytes = len >= LIP_CONFIG_EXT_SIZE ? lip_get_u32(data + 28) : 0u;
    return LIP_DECODE_OK;
}

/* ---- commands (control characteristic) ------------------------------------------------- */
/* Parse a command; returns LIP_STATUS_OK and fills *cmd, or the status to report. */
static inline uint8_t lip_parse_command(const uint8_t *data, size_t len, lip_command_t *cmd) {
    cmd->opcode = 0;
    cmd->rate_hz = 0;
    cmd->acc_range_g = 0;
    cmd->gyr_range_dps = 0;
    cmd->session_id = 0;
    cmd->offset = 0;
    cmd->length = 0;
    cmd->digest = 0;
    cmd->utc_us = 0;
    if (len == 0u) return LIP_STATUS_BAD_LENGTH;
    cmd->opcode = data[0];
    switch (data[0]) {
        case LIP_OP_START:
        case LIP_OP_STOP:
        case LIP_OP_LOG_START:
        case LIP_OP_LOG_STOP:
        case LIP_OP_LOG_LIST:
        case LIP_OP_GET_CLOCK:
            return len == 1u ? LIP_STATUS_OK : LIP_STATUS_BAD_LENGTH;
        case LIP_OP_LOG_READ:
            if (len != 11u) return LIP_STATUS_BAD_LENGTH;
            cmd->session_id = lip_get_u16(data + 1);
            cmd->offset = lip_get_u32(data + 3);
            cmd->length = lip_get_u32(data + 7);
            return LIP_STATUS_OK;
        case LIP_OP_LOG_ERASE:
            if (len != 7u) return LIP_STATUS_BAD_LENGTH;
            cmd->session_id = lip_get_u16(data + 1);
            cmd->digest = lip_get_u32(data + 3);
            return LIP_STATUS_OK;
        case LIP_OP_SET_CLOCK:
            if (len != 9u) return LIP_STATUS_BAD_LENGTH;
            cmd->utc_us = lip_get_u64(data + 1);
            return cmd->utc_us ? LIP_STATUS_OK : LIP_STATUS_BAD_ARGUMENT;
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

/* One-byte commands: LIP_OP_LOG_START, LOG_STOP, LOG_LIST, GET_CLOCK (and START, STOP). */
static inline size_t lip_encode_cmd_plain(uint8_t *out, uint8_t opcode) {
    out[0] = opcode;
    return 1;
}

static inline size_t lip_encode_cmd_log_read(uint8_t *out, uint16_t session_id, uint32_t offset, uint32_t length) {
    out[0] = LIP_OP_LOG_READ;
    lip_put_u16(out + 1, session_id);
    lip_put_u32(out + 3, offset);
    lip_put_u32(out + 7, length);
    return 11;
}

static inline size_t lip_encode_cmd_log_erase(uint8_t *out, uint16_t session_id, uint32_t digest) {
    out[0] = LIP_OP_LOG_ERASE;
    lip_put_u16(out + 1, session_id);
    lip_put_u32(out + 3, digest);
    return 7;
}

static inline size_t lip_encode_cmd_set_clock(uint8_t *out, uint64_t utc_us) {
    out[0] = LIP_OP_SET_CLOCK;
    lip_put_u64(out + 1, utc_us);
    return 9;
}

/* ---- messages of the Log characteristic (PROTOCOL.md section 7) ------------------------ *
 * Every message: byte 0 the kind, the last two bytes CRC-16/CCITT-FALSE of the rest.
 * Encoders return the length written (0 if cap is too small or a value is out of range);
 * decoders return LIP_DECODE_*. */
static inline size_t lip_log_seal(uint8_t *out, size_t body) {
    lip_put_u16(out + body, lip_crc16(out, body));
    return body + 2u;
}

static inline size_t lip_encode_log_entry(uint8_t *out, size_t cap, const lip_log_entry_t *e) {
    if (cap < LIP_LOG_ENTRY_SIZE) return 0;
    out[0] = LIP_LOG_MSG_ENTRY;
    out[1] = e->flags;
    lip_put_u16(out + 2, e->session_id);
    lip_put_u32(out + 4, e->size_bytes);
    lip_put_u64(out + 8, e->start_utc_us);
    lip_put_u64(out + 16, e->clock_set_utc_us);
    lip_put_u32(out + 24, e->n_samples);
    lip_put_u32(out + 28, e->duration_ms);
    lip_put_u32(out + 32, e->rate_mhz);
    lip_put_u32(out + 36, e->acc_scale_ng_per_lsb);
    lip_put_u32(out + 40, e->gyr_scale_udps_per_lsb);
    lip_put_u16(out + 44, e->gyr_range_dps);
    out[46] = e->acc_range_g;
    out[47] = e->format;
    lip_put_u32(out + 48, e->digest);
    return lip_log_seal(out, 52u);
}

static inline size_t lip_encode_log_list_end(uint8_t *out, size_t cap, const lip_log_list_end_t *m) {
    if (cap < LIP_LOG_LIST_END_SIZE) return 0;
    out[0] = LIP_LOG_MSG_LIST_END;
    out[1] = 0;
    lip_put_u16(out + 2, m->n_sessions);
    lip_put_u32(out + 4, m->capacity_bytes);
    lip_put_u32(out + 8, m->free_bytes);
    return lip_log_seal(out, 12u);
}

/* A block whose payload (m->length bytes at m->payload) is copied in; payload may be NULL when
 * the caller has already put the bytes at out + 12 (the firmware reads flash straight there). */
static inline size_t lip_encode_log_block(uint8_t *out, size_t cap, const lip_log_block_t *m) {
    size_t i;
    if (m->length == 0u || m->length > LIP_LOG_MAX_BLOCK_PAYLOAD) return 0;
    if (cap < (size_t)LIP_LOG_BLOCK_OVERHEAD + m->length) return 0;
    out[0] = LIP_LOG_MSG_BLOCK;
    out[1] = 0;
    lip_put_u16(out + 2, m->session_id);
    lip_put_u32(out + 4, m->offset);
    lip_put_u16(out + 8, m->seq);
    lip_put_u16(out + 10, m->length);
    if (m->payload != NULL)
        for (i = 0; i < m->length; i++) out[12u + i] = m->payload[i];
    return lip_log_seal(out, 12u + (size_t)m->length);
}

static inline size_t lip_encode_log_read_end(uint8_t *out, size_t cap, const lip_log_read_end_t *m) {
    if (cap < LIP_LOG_READ_END_SIZE) return 0;
    out[0] = LIP_LOG_MSG_READ_END;
    out[1] = 0;
    lip_put_u16(out + 2, m->session_id);
    lip_put_u32(out + 4, m->offset);
    lip_put_u32(out + 8, m->end);
    lip_put_u16(out + 12, m->blocks);
    return lip_log_seal(out, 14u);
}

static inline size_t lip_encode_log_clock(uint8_t *out, size_t cap, const lip_log_clock_t *m) {
    size_t i;
    if (cap < LIP_LOG_CLOCK_SIZE) return 0;
    out[0] = LIP_LOG_MSG_CLOCK;
    out[1] = m->flags;
    for (i = 2; i < 8u; i++) out[i] = 0;
    lip_put_u64(out + 8, m->now_utc_us);
    lip_put_u64(out + 16, m->set_utc_us);
    return lip_log_seal(out, 24u);
}

/* Length and CRC of a message of kind `kind` that must be `want` bytes long. */
static inline int lip_log_check(const uint8_t *data, size_t len, uint8_t kind, size_t want) {
    if (len < 1u) return LIP_DECODE_TRUNCATED;
    if (data[0] != kind) return LIP_DECODE_KIND;
    if (len < want) return LIP_DECODE_TRUNCATED;
    if (len > want) return LIP_DECODE_OVERSIZED;
    if (lip_get_u16(data + want - 2u) != lip_crc16(data, want - 2u)) return LIP_DECODE_CORRUPT;
    return LIP_DECODE_OK;
}

static inline int lip_decode_log_entry(const uint8_t *data, size_t len, lip_log_entry_t *e) {
    int r = lip_log_check(data, len, LIP_LOG_MSG_ENTRY, LIP_LOG_ENTRY_SIZE);
    if (r != LIP_DECODE_OK) return r;
    e->flags = data[1];
    e->session_id = lip_get_u16(data + 2);
    e->size_bytes = lip_get_u32(data + 4);
    e->start_utc_us = lip_get_u64(data + 8);
    e->clock_set_utc_us = lip_get_u64(data + 16);
    e->n_samples = lip_get_u32(data + 24);
    e->duration_ms = lip_get_u32(data + 28);
    e->rate_mhz = lip_get_u32(data + 32);
    e->acc_scale_ng_per_lsb = lip_get_u32(data + 36);
    e->gyr_scale_udps_per_lsb = lip_get_u32(data + 40);
    e->gyr_range_dps = lip_get_u16(data + 44);
    e->acc_range_g = data[46];
    e->format = data[47];
    e->digest = lip_get_u32(data + 48);
    return LIP_DECODE_OK;
}

static inline int lip_decode_log_list_end(const uint8_t *data, size_t len, lip_log_list_end_t *m) {
    int r = lip_log_check(data, len, LIP_LOG_MSG_LIST_END, LIP_LOG_LIST_END_SIZE);
    if (r != LIP_DECODE_OK) return r;
    m->n_sessions = lip_get_u16(data + 2);
    m->capacity_bytes = lip_get_u32(data + 4);
    m->free_bytes = lip_get_u32(data + 8);
    return LIP_DECODE_OK;
}

static inline int lip_decode_log_block(const uint8_t *data, size_t len, lip_log_block_t *m) {
    int r;
    if (len >= 1u && data[0] != LIP_LOG_MSG_BLOCK) return LIP_DECODE_KIND;
    if (len < (size_t)LIP_LOG_BLOCK_OVERHEAD + 1u) return LIP_DECODE_TRUNCATED;
    r = lip_log_check(data, len, LIP_LOG_MSG_BLOCK, (size_t)LIP_LOG_BLOCK_OVERHEAD + lip_get_u16(data + 10));
    if (r != LIP_DECODE_OK) return r;
    m->session_id = lip_get_u16(data + 2);
    m->offset = lip_get_u32(data + 4);
    m->seq = lip_get_u16(data + 8);
    m->length = lip_get_u16(data + 10);
    m->payload = data + 12;
    return LIP_DECODE_OK;
}

static inline int lip_decode_log_read_end(const uint8_t *data, size_t len, lip_log_read_end_t *m) {
    int r = lip_log_check(data, len, LIP_LOG_MSG_READ_END, LIP_LOG_READ_END_SIZE);
    if (r != LIP_DECODE_OK) return r;
    m->session_id = lip_get_u16(data + 2);
    m->offset = lip_get_u32(data + 4);
    m->end = lip_get_u32(data + 8);
    m->blocks = lip_get_u16(data + 12);
    return LIP_DECODE_OK;
}

static inline int lip_decode_log_clock(const uint8_t *data, size_t len, lip_log_clock_t *m) {
    int r = lip_log_check(data, len, LIP_LOG_MSG_CLOCK, LIP_LOG_CLOCK_SIZE);
    if (r != LIP_DECODE_OK) return r;
    m->flags = data[1];
    m->now_utc_us = lip_get_u64(data + 8);
    m->set_utc_us = lip_get_u64(data + 16);
    return LIP_DECODE_OK;
}

/* Data bytes per block at ATT MTU att_mtu (0 below LIP_LOG_MIN_ATT_MTU). */
static inline size_t lip_log_block_payload(uint16_t att_mtu) {
    size_t payload;
    if (att_mtu < LIP_LOG_MIN_ATT_MTU) return 0;
    payload = (size_t)att_mtu - 3u;
    if (payload > LIP_MAX_ATTRIBUTE_SIZE) payload = LIP_MAX_ATTRIBUTE_SIZE;
    return payload - LIP_LOG_BLOCK_OVERHEAD;
}

#ifdef __cplusplus
}
#endif

#endif /* LUMBAR_IMU_PROTOCOL_H */
