/*
 * lip_log.h - the reference firmware's session store: logged sessions on a NOR flash.
 *
 * Plain C99, no allocation, no hardware API: the flash is reached through lip_flash_t (read,
 * program, erase one 4096-byte sector), so the test suite runs all of this on the host over a
 * RAM flash that enforces NOR semantics (extras/host_test.c, tests/test_firmware_host.py).
 *
 * Layout. The first two sectors hold two copies of the directory (written alternately, each
 * with a generation number and a CRC-32, so a power loss while writing one leaves the other);
 * the rest is a ring of session data. A session starts on a sector boundary and is a run of
 * records (version-1 data packets, PROTOCOL.md section 2) appended at the head. Positions are
 * logical (uint64, never wrapping); the physical address is the position modulo the ring size.
 *
 *   tail  = start of the oldest stored session (or the aligned head when none)
 *   limit = tail + ring size - one sector
 *
 * Every byte below `limit` can be written: the store keeps one erased sector ahead of the
 * head, so after a power loss the scan of the interrupted session always meets erased flash
 * (0xFF) after its last record, never stale records of an older session at the same place.
 * Nothing stored is ever overwritten: a record that does not fit ends the session (FULL).
 * Erasing the oldest session frees its sectors at once; erasing a newer one while an older is
 * still stored hides it, and its space comes back when the older ones are erased (a ring
 * frees space in logging order).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LIP_LOG_H
#define LIP_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "lumbar_imu_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LIP_FLASH_SECTOR 4096u
#ifndef LIP_LOG_MAX_SESSIONS
#define LIP_LOG_MAX_SESSIONS 48u /* directory slots: 24 + 48 x 64 + 4 bytes fit one sector */
#endif
#define LIP_LOG_DIR_SECTORS 2u
#define LIP_LOG_DIR_MAGIC 0x4450494Cu /* "LIPD" */
#define LIP_LOG_DIR_HEADER 24u
#define LIP_LOG_SLOT_SIZE 64u

/* lip_log_* results (the device turns them into LIP_STATUS_*) */
#define LIP_LOG_OK 0
#define LIP_LOG_FULL 1      /* no room (or no directory slot) */
#define LIP_LOG_IO 2        /* the flash failed */
#define LIP_LOG_NOT_FOUND 3 /* no such session */
#define LIP_LOG_BUSY 4      /* the session is being logged */
#define LIP_LOG_DIGEST 5    /* the digest does not match */

typedef struct {
    void *ctx;
    uint32_t size; /* bytes, a multiple of LIP_FLASH_SECTOR, at least 4 sectors */
    int (*read)(void *ctx, uint32_t addr, uint8_t *buf, size_t n);            /* 0 on success */
    int (*program)(void *ctx, uint32_t addr, const uint8_t *buf, size_t n);   /* bits 1 -> 0 only */
    int (*erase_sector)(void *ctx, uint32_t addr);                            /* 4096 bytes -> 0xFF */
} lip_flash_t;

typedef struct {
    lip_log_entry_t e; /* as LOG_LIST announces it */
    uint64_t start;    /* logical position of its first byte (a sector boundary) */
    uint8_t erased;    /* erased by the host; its space comes back with the older sessions' */
} lip_log_slot_t;

typedef struct {
    const lip_flash_t *flash;
    uint32_t ring_size; /* bytes of session data area (the flash less the directory) */
    uint64_t head;      /* logical position of the next byte */
    uint64_t erased_to; /* sectors below this position (from the head's) are erased */
    uint32_t generation;
    uint16_t next_id;
    uint16_t count; /* slots in use, erased ones included, oldest first */
    int active;     /* slot being logged, or -1 */
    uint8_t dir_copy;
    int io_error; /* a flash operation failed since mount */
    lip_log_slot_t slot[LIP_LOG_MAX_SESSIONS];
} lip_log_t;

/* ---- flash access over the ring ------------------------------------------------------- */
static inline uint32_t lip_log_phys(const lip_log_t *s, uint64_t pos) {
    return LIP_LOG_DIR_SECTORS * LIP_FLASH_SECTOR + (uint32_t)(pos % s->ring_size);
}

static inline int lip_log_ring_io(lip_log_t *s, uint64_t pos, uint8_t *rbuf, const uint8_t *wbuf, size_t n) {
    while (n > 0u) {
        uint32_t off = (uint32_t)(pos % s->ring_size);
        size_t chunk = s->ring_size - off < n ? (size_t)(s->ring_size - off) : n;
        int r = rbuf != NULL ? s->flash->read(s->flash->ctx, lip_log_phys(s, pos), rbuf, chunk)
                             : s->flash->program(s->flash->ctx, lip_log_phys(s, pos), wbuf, chunk);
        if (r != 0) {
            s->io_error = 1;
            return LIP_LOG_IO;
        }
        pos += chunk;
        n -= chunk;
        if (rbuf != NULL) rbuf += chunk;
        if (wbuf != NULL) wbuf += chunk;
    }
    return LIP_LOG_OK;
}

static inline uint64_t lip_log_align(uint64_t pos) {
    return (pos + LIP_FLASH_SECTOR - 1u) / LIP_FLASH_SECTOR * LIP_FLASH_SECTOR;
}

static inline uint64_t lip_log_tail(const lip_log_t *s) {
    return s->count ? s->slot[0].start : lip_log_align(s->head);
}

static inline uint64_t lip_log_limit(const lip_log_t *s) {
    return lip_log_tail(s) + s->ring_size - LIP_FLASH_SECTOR;
}

/* Bytes of session data the empty store holds. */
static inline uint32_t lip_log_capacity(const lip_log_t *s) { return s->ring_size - LIP_FLASH_SECTOR; }

/* Bytes still free: for the session being logged, or for a new one (which starts on a sector). */
static inline uint32_t lip_log_free(const lip_log_t *s) {
    uint64_t from = s->active >= 0 ? s->head : lip_log_align(s->head), limit = lip_log_limit(s);
    return limit > from ? (uint32_t)(limit - from) : 0u;
}

/* Sessions the host sees (erased ones are hidden). */
static inline uint16_t lip_log_visible(const lip_log_t *s) {
    uint16_t i, n = 0;
    for (i = 0; i < s->count; i++)
        if (!s->slot[i].erased) n++;
    return n;
}

/* Erase sectors so that every byte below `upto` (and the sector after it) is erased. */
static inline int lip_log_erase_ahead(lip_log_t *s, uint64_t upto) {
    uint64_t need = lip_log_align(upto) + LIP_FLASH_SECTOR;
    if (s->erased_to < lip_log_align(s->head)) s->erased_to = lip_log_align(s->head);
    while (s->erased_to < need) {
        if (s->flash->erase_sector(s->flash->ctx, lip_log_phys(s, s->erased_to)) != 0) {
            s->io_error = 1;
            return LIP_LOG_IO;
        }
        s->erased_to += LIP_FLASH_SECTOR;
    }
    return LIP_LOG_OK;
}

/* ---- directory ------------------------------------------------------------------------- */
static inline void lip_log_slot_encode(const lip_log_slot_t *sl, uint8_t *out) {
    lip_put_u64(out, sl->start);
    out[8] = sl->erased;
    out[9] = 0;
    lip_encode_log_entry(out + 10, LIP_LOG_ENTRY_SIZE, &sl->e);
}

static inline int lip_log_persist(lip_log_t *s) {
    uint8_t buf[LIP_LOG_SLOT_SIZE];
    uint8_t copy = (uint8_t)(1u - s->dir_copy);
    uint32_t base = (uint32_t)copy * LIP_FLASH_SECTOR, crc;
    uint16_t i;
    const lip_flash_t *f = s->flash;
    s->generation++;
    lip_put_u32(buf, LIP_LOG_DIR_MAGIC);
    lip_put_u32(buf + 4, s->generation);
    lip_put_u64(buf + 8, s->head);
    lip_put_u16(buf + 16, s->next_id);
    lip_put_u16(buf + 18, s->count);
    lip_put_u32(buf + 20, 0);
    if (f->erase_sector(f->ctx, base) != 0 || f->program(f->ctx, base, buf, LIP_LOG_DIR_HEADER) != 0) goto fail;
    crc = lip_crc32(0, buf, LIP_LOG_DIR_HEADER);
    for (i = 0; i < s->count; i++) {
        lip_log_slot_encode(&s->slot[i], buf);
        if (f->program(f->ctx, base + LIP_LOG_DIR_HEADER + (uint32_t)i * LIP_LOG_SLOT_SIZE, buf, LIP_LOG_SLOT_SIZE) != 0)
            goto fail;
        crc = lip_crc32(crc, buf, LIP_LOG_SLOT_SIZE);
    }
    lip_put_u32(buf, crc);
    if (f->program(f->ctx, base + LIP_LOG_DIR_HEADER + (uint32_t)s->count * LIP_LOG_SLOT_SIZE, buf, 4) != 0) goto fail;
    s->dir_copy = copy;
    return LIP_LOG_OK;
fail:
    s->io_error = 1;
    return LIP_LOG_IO;
}

/* Load directory copy `copy` into s when it is valid; returns its generation, or 0 if invalid. */
static inline uint32_t lip_log_load(lip_log_t *s, uint8_t copy, int apply) {
    uint8_t buf[LIP_LOG_SLOT_SIZE];
    uint32_t base = (uint32_t)copy * LIP_FLASH_SECTOR, crc, gen;
    uint16_t i, count;
    const lip_flash_t *f = s->flash;
    if (f->read(f->ctx, base, buf, LIP_LOG_DIR_HEADER) != 0 || lip_get_u32(buf) != LIP_LOG_DIR_MAGIC) return 0;
    gen = lip_get_u32(buf + 4);
    count = lip_get_u16(buf + 18);
    if (count > LIP_LOG_MAX_SESSIONS || gen == 0u) return 0;
    if (apply) {
        s->generation = gen;
        s->head = lip_get_u64(buf + 8);
        s->next_id = lip_get_u16(buf + 16);
        s->count = count;
        s->dir_copy = copy;
    }
    crc = lip_crc32(0, buf, LIP_LOG_DIR_HEADER);
    for (i = 0; i < count; i++) {
        if (f->read(f->ctx, base + LIP_LOG_DIR_HEADER + (uint32_t)i * LIP_LOG_SLOT_SIZE, buf, LIP_LOG_SLOT_SIZE) != 0) return 0;
        crc = lip_crc32(crc, buf, LIP_LOG_SLOT_SIZE);
        if (apply) {
            s->slot[i].start = lip_get_u64(buf);
            s->slot[i].erased = buf[8];
            if (lip_decode_log_entry(buf + 10, LIP_LOG_ENTRY_SIZE, &s->slot[i].e) != LIP_DECODE_OK) return 0;
        }
    }
    if (f->read(f->ctx, base + LIP_LOG_DIR_HEADER + (uint32_t)count * LIP_LOG_SLOT_SIZE, buf, 4) != 0) return 0;
    return lip_get_u32(buf) == crc ? gen : 0u;
}

/*
 * Rebuild an interrupted session (power lost while logging) from its records: scan from its
 * start while each record is valid and in sequence; the first invalid one (erased flash, a
 * half-programmed record) ends it. Size, digest, sample count and duration are recomputed.
 */
static inline void lip_log_recover(lip_log_t *s, int i) {
    lip_log_slot_t *sl = &s->slot[i];
    uint8_t rec[LIP_MAX_PACKET_SIZE];
    uint64_t pos = sl->start, limit = lip_log_limit(s);
    uint32_t digest = 0, n_samples = 0, t_prev = 0, period = 1000000000u / (sl->e.rate_mhz ? sl->e.rate_mhz : 1u);
    int64_t t_ext = 0, t_last = 0;
    uint16_t seq = 0;
    uint8_t flags = (uint8_t)(sl->e.flags & ~LIP_ENTRY_ACTIVE);
    size_t n;
    while (pos + lip_packet_size(1) <= limit) {
        size_t want;
        if (lip_log_ring_io(s, pos, rec, NULL, LIP_HEADER_SIZE) != LIP_LOG_OK) break;
        if (rec[0] != LIP_VERSION || rec[8] < 1u || rec[8] > LIP_MAX_SAMPLES) break;
        want = lip_packet_size(rec[8]);
        if (pos + want > limit || lip_log_ring_io(s, pos, rec, NULL, want) != LIP_LOG_OK) break;
        if (lip_check_packet(rec, want, &n) != LIP_DECODE_OK || lip_get_u16(rec + 2) != seq) break;
        if ((seq == 0u) != ((rec[1] & LIP_FLAG_STREAM_START) != 0u)) break;
        if (seq > 0u) t_ext += (int64_t)(uint32_t)(lip_get_u32(rec + 4) - t_prev);
        t_prev = lip_get_u32(rec + 4);
        t_last = t_ext + (int64_t)(n - 1u) * (int64_t)period;
        if (rec[1] & LIP_FLAG_OVERFLOW) flags |= LIP_ENTRY_OVERFLOW;
        digest = lip_crc32(digest, rec, want);
        n_samples += (uint32_t)n;
        pos += want;
        seq++;
    }
    sl->e.size_bytes = (uint32_t)(pos - sl->start);
    sl->e.digest = digest;
    sl->e.n_samples = n_samples;
    sl->e.duration_ms = n_samples ? (uint32_t)((t_last + (int64_t)period + 500) / 1000) : 0u;
    sl->e.flags = (uint8_t)(flags | LIP_ENTRY_RECOVERED);
    s->head = pos;
}

/* Drop erased sessions at the oldest end (their sectors become free). */
static inline void lip_log_reclaim(lip_log_t *s) {
    uint16_t k = 0, i;
    while (k < s->count && s->slot[k].erased) k++;
    if (k == 0u) return;
    for (i = k; i < s->count; i++) s->slot[i - k] = s->slot[i];
    s->count = (uint16_t)(s->count - k);
    if (s->active >= 0) s->active -= k;
}

/*
 * Mount the store on `flash`: load the newer valid directory copy (format an empty store when
 * there is none), and close a session that was being logged when power was lost.
 */
static inline int lip_log_mount(lip_log_t *s, const lip_flash_t *flash) {
    uint32_t g0, g1;
    uint16_t i;
    s->flash = flash;
    s->ring_size = flash->size - LIP_LOG_DIR_SECTORS * LIP_FLASH_SECTOR;
    s->ring_size -= s->ring_size % LIP_FLASH_SECTOR;
    s->active = -1;
    s->io_error = 0;
    s->count = 0;
    g0 = lip_log_load(s, 0, 0);
    g1 = lip_log_load(s, 1, 0);
    if (g0 == 0u && g1 == 0u) { /* blank or foreign flash: an empty store */
        s->head = 0;
        s->erased_to = 0;
        s->next_id = 1;
        s->generation = 0;
        s->dir_copy = 1; /* the first image goes to copy 0 */
        return lip_log_persist(s);
    }
    lip_log_load(s, g1 > g0 ? 1 : 0, 1);
    s->erased_to = lip_log_align(s->head);
    for (i = 0; i < s->count; i++)
        if (s->slot[i].e.flags & LIP_ENTRY_ACTIVE) lip_log_recover(s, (int)i);
    /* an interrupted session with no complete record is the newest: forget it */
    if (s->count > 0u && s->slot[s->count - 1u].e.size_bytes == 0u) s->count--;
    lip_log_reclaim(s);
    s->erased_to = lip_log_align(s->head);
    return lip_log_persist(s);
}

/*
 * Begin a session described by `e` (settings, start and clock fields; the store fills in id,
 * size, digest and flags ACTIVE). Returns LIP_LOG_OK and the slot's index in *slot, or
 * LIP_LOG_FULL when there is no room for one full record or no directory slot.
 */
static inline int lip_log_begin(lip_log_t *s, const lip_log_entry_t *e, int *slot) {
    lip_log_slot_t *sl;
    uint64_t start = lip_log_align(s->head);
    if (s->active >= 0) return LIP_LOG_BUSY;
    if (s->count >= LIP_LOG_MAX_SESSIONS) return LIP_LOG_FULL;
    if (start + LIP_MAX_PACKET_SIZE > lip_log_limit(s)) return LIP_LOG_FULL;
    s->head = start;
    if (lip_log_erase_ahead(s, start + 1u) != LIP_LOG_OK) return LIP_LOG_IO;
    sl = &s->slot[s->count];
    sl->e = *e;
    sl->e.session_id = s->next_id;
    sl->e.flags = (uint8_t)(e->flags | LIP_ENTRY_ACTIVE);
    sl->e.size_bytes = 0;
    sl->e.digest = 0;
    sl->e.format = LIP_LOG_FORMAT_PACKETS;
    sl->start = start;
    sl->erased = 0;
    s->next_id = (uint16_t)(s->next_id == 0xFFFFu ? 1u : s->next_id + 1u);
    s->active = (int)s->count;
    s->count++;
    *slot = s->active;
    return lip_log_persist(s);
}

/* Append one record to the session being logged; LIP_LOG_FULL when it does not fit (nothing written). */
static inline int lip_log_append(lip_log_t *s, const uint8_t *rec, size_t len) {
    lip_log_slot_t *sl;
    if (s->active < 0) return LIP_LOG_NOT_FOUND;
    if (s->head + len > lip_log_limit(s)) return LIP_LOG_FULL;
    if (lip_log_erase_ahead(s, s->head + len) != LIP_LOG_OK) return LIP_LOG_IO;
    if (lip_log_ring_io(s, s->head, NULL, rec, len) != LIP_LOG_OK) return LIP_LOG_IO;
    sl = &s->slot[s->active];
    sl->e.digest = lip_crc32(sl->e.digest, rec, len);
    sl->e.size_bytes += (uint32_t)len;
    s->head += len;
    return LIP_LOG_OK;
}

/* Persist the active session's entry as it is now (after its first record: the start time). */
static inline int lip_log_checkpoint(lip_log_t *s) { return lip_log_persist(s); }

/* End the session being logged, adding `flags` (e.g. LIP_ENTRY_FULL). An empty one is dropped. */
static inline int lip_log_end(lip_log_t *s, uint8_t flags) {
    lip_log_slot_t *sl;
    if (s->active < 0) return LIP_LOG_OK;
    sl = &s->slot[s->active];
    sl->e.flags = (uint8_t)((sl->e.flags | flags) & ~LIP_ENTRY_ACTIVE);
    if (sl->e.size_bytes == 0u) {
        sl->erased = 1;
        s->count--; /* it is the newest: forget it, its sector stays free */
    }
    s->active = -1;
    return lip_log_persist(s);
}

/* Index of the visible session `id`, or -1. */
static inline int lip_log_find(const lip_log_t *s, uint16_t id) {
    uint16_t i;
    for (i = 0; i < s->count; i++)
        if (!s->slot[i].erased && s->slot[i].e.session_id == id) return (int)i;
    return -1;
}

/* Read bytes [offset, offset + n) of slot i's data. */
static inline int lip_log_read(lip_log_t *s, int i, uint32_t offset, uint8_t *buf, size_t n) {
    return lip_log_ring_io(s, s->slot[i].start + offset, buf, NULL, n);
}

/* Erase session `id` if `digest` equals its CRC-32 (the host verified what it downloaded). */
static inline int lip_log_erase(lip_log_t *s, uint16_t id, uint32_t digest) {
    int i = lip_log_find(s, id);
    if (i < 0) return LIP_LOG_NOT_FOUND;
    if (i == s->active) return LIP_LOG_BUSY;
    if (s->slot[i].e.digest != digest) return LIP_LOG_DIGEST;
    s->slot[i].erased = 1;
    lip_log_reclaim(s);
    return lip_log_persist(s);
}

#ifdef __cplusplus
}
#endif

#endif /* LIP_LOG_H */
