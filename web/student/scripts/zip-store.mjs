// Minimal ZIP writer for MediaPipe `.task` bundles: entries are STOREd (not
// deflated) because MediaPipe reads model files straight out of the archive
// buffer, and their data offsets are padded to 16 bytes (via the local
// header's extra field) so a TFLite flatbuffer inside keeps the alignment it
// would have as a standalone file. Timestamps are fixed so builds are
// byte-for-byte reproducible.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const DATA_ALIGN = 16;

/**
 * @param {{name: string, data: Uint8Array}[]} entries
 * @returns {Uint8Array} a ZIP archive with every entry STOREd
 */
export function zipStore(entries) {
  const chunks = [];
  const central = [];
  let offset = 0;
  const enc = new TextEncoder();

  for (const { name, data } of entries) {
    const nameBytes = enc.encode(name);
    const crc = crc32(data);
    // Pad so the file data starts on a DATA_ALIGN boundary of the archive.
    const headerLen = 30 + nameBytes.length;
    let extraLen = (DATA_ALIGN - ((offset + headerLen) % DATA_ALIGN)) % DATA_ALIGN;
    if (extraLen > 0 && extraLen < 4) extraLen += DATA_ALIGN; // an extra record needs ≥ 4 bytes
    const local = new Uint8Array(headerLen + extraLen);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true); // local file header signature
    dv.setUint16(4, 10, true);         // version needed: 1.0 (stored)
    dv.setUint16(6, 0, true);          // flags
    dv.setUint16(8, 0, true);          // method: STORE
    dv.setUint16(10, 0, true);         // mod time
    dv.setUint16(12, DOS_DATE_1980_01_01, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, data.length, true);
    dv.setUint32(22, data.length, true);
    dv.setUint16(26, nameBytes.length, true);
    dv.setUint16(28, extraLen, true);
    local.set(nameBytes, 30);
    if (extraLen) {
      // 0xD935 is the id Android's zipalign uses for alignment padding.
      dv.setUint16(headerLen, 0xd935, true);
      dv.setUint16(headerLen + 2, extraLen - 4, true);
    }
    chunks.push(local, data);
    central.push({ nameBytes, crc, size: data.length, offset });
    offset += local.length + data.length;
  }

  const cdStart = offset;
  for (const e of central) {
    const rec = new Uint8Array(46 + e.nameBytes.length);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, 0x02014b50, true); // central directory signature
    dv.setUint16(4, 20, true);         // version made by
    dv.setUint16(6, 10, true);         // version needed
    dv.setUint16(8, 0, true);
    dv.setUint16(10, 0, true);         // STORE
    dv.setUint16(12, 0, true);
    dv.setUint16(14, DOS_DATE_1980_01_01, true);
    dv.setUint32(16, e.crc, true);
    dv.setUint32(20, e.size, true);
    dv.setUint32(24, e.size, true);
    dv.setUint16(28, e.nameBytes.length, true);
    dv.setUint32(42, e.offset, true);  // local header offset
    rec.set(e.nameBytes, 46);
    chunks.push(rec);
    offset += rec.length;
  }
  const eocd = new Uint8Array(22);
  const dv = new DataView(eocd.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, central.length, true);
  dv.setUint16(10, central.length, true);
  dv.setUint32(12, offset - cdStart, true);
  dv.setUint32(16, cdStart, true);
  chunks.push(eocd);

  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.length; }
  return out;
}
