// Wire constants and bin-column readers (docs/protocol.md; little-endian throughout).

export const VERSION = 1;
export const T = {
  HELLO: 1, INPUT: 2, PING: 3, ACK: 4, SNAPSHOT_REQUEST: 5, CHECKSUM: 6, LEAVE: 7, REPLAY_CONTROL: 10,
  WELCOME: 64, STATE: 65, LOCKSTEP_FRAME: 66, CHECKPOINT: 67, PONG: 68, ERROR: 69,
  DESYNC: 70, SHUTDOWN: 71, RESULT: 72, NOTICE: 73,
};
export const CLOSE_NAMES = {
  1000: "NORMAL", 1001: "GOING_AWAY", 1006: "ABNORMAL", 1009: "MESSAGE_TOO_BIG",
  4000: "VERSION_MISMATCH", 4001: "BAD_TOKEN", 4002: "MALFORMED_MESSAGE",
  4003: "UNKNOWN_MESSAGE_TYPE", 4004: "HANDSHAKE_TIMEOUT", 4005: "MATCH_FULL",
  4006: "IDLE_TIMEOUT", 4007: "BINARY_ONLY", 4008: "RATE_LIMITED", 4009: "TOO_FAR_BEHIND",
  4010: "JOIN_REJECTED", 4011: "RESUME_FORGED", 4012: "RESUME_EXPIRED", 4013: "RESUME_REUSED",
  4014: "UNEXPECTED_MESSAGE", 4015: "MATCH_ENDED", 4016: "MATCH_FAILED",
  4017: "SERVER_SHUTDOWN", 4018: "KICKED", 4019: "SERVER_BUSY", 4020: "LEFT",
  4021: "MATCH_NOT_FOUND", 4022: "RESERVATION_FORGED", 4023: "RESERVATION_EXPIRED",
  4024: "RESERVATION_USED", 4025: "BANNED", 4026: "NODE_GONE",
};

// Wire type -> [bytes per value, DataView getter] (an `entity` is a uint32 net id).
const WIRE = {
  bool: [1, "getUint8"], int8: [1, "getInt8"], uint8: [1, "getUint8"],
  int16: [2, "getInt16"], uint16: [2, "getUint16"], int32: [4, "getInt32"],
  uint32: [4, "getUint32"], float32: [4, "getFloat32"], entity: [4, "getUint32"],
};

/** The values of a bin column of wire type `wire`, as a plain array of numbers. */
export function readColumn(bin, wire) {
  const [size, getter] = WIRE[wire] || WIRE.uint8;
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out = new Array(Math.floor(bin.byteLength / size));
  for (let i = 0; i < out.length; i++) out[i] = view[getter](i * size, true);
  return out;
}

/** Net ids of a bin column `width` bytes each (2: uint16, 4: uint32). */
export function readIds(bin, width) {
  return readColumn(bin, width === 2 ? "uint16" : "uint32");
}

/** Packed positions (qx uint16, qy uint16 per entity) as [x, y] world units. */
export function readPositions(bin, sx, sy) {
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out = new Array(bin.byteLength / 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = [view.getUint16(i * 4, true) * sx, view.getUint16(i * 4 + 2, true) * sy];
  }
  return out;
}
