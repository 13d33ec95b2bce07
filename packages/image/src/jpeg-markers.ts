// What libjpeg learns from a JPEG's marker structure that TensorFlow's decoder acts on, read without
// decoding: the frame's component count, whether an Adobe APP14 marker is present (it decides how CMYK
// is inverted), and whether the stream reaches its EOI marker (if not, libjpeg runs out of data: an
// error for TensorFlow unless try_recover_truncated).
import { u16be } from './bytes.js';

export interface JpegMarkers {
  /** The frame header's (SOFn) component count, width and height; all 0 when none was reached. */
  readonly components: number;
  readonly width: number;
  readonly height: number;
  /** libjpeg's saw_Adobe_marker: an APP14 segment of at least 12 bytes starting "Adobe". */
  readonly adobe: boolean;
  /** The EOI marker is reached: libjpeg never asks for data past the end. */
  readonly complete: boolean;
}

const SOS = 0xda;
const EOI = 0xd9;
const APP14 = 0xee;
const ADOBE = [0x41, 0x64, 0x6f, 0x62, 0x65];

function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Walks segments from SOI to EOI. Entropy-coded data after each SOS is skipped the way libjpeg finds
 * the next marker in it: 0xFF followed by a byte other than 0x00 (stuffing), 0xFF (fill) or RST0..7.
 */
export function readJpegMarkers(bytes: Uint8Array): JpegMarkers {
  let frame = { components: 0, width: 0, height: 0 };
  let adobe = false;
  let i = 2; // after SOI
  while (i + 1 < bytes.length) {
    if (bytes[i] !== 0xff) return { ...frame, adobe, complete: false }; // libjpeg would hunt; a corrupt header fails anyway
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === EOI) return { ...frame, adobe, complete: true };
    i += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (i + 2 > bytes.length) break;
    const end = i + u16be(bytes, i);
    if (isSof(marker) && i + 8 <= bytes.length) frame = { components: bytes[i + 7], height: u16be(bytes, i + 3), width: u16be(bytes, i + 5) };
    if (marker === APP14 && end - i - 2 >= 12 && ADOBE.every((b, k) => bytes[i + 2 + k] === b)) adobe = true;
    i = end;
    if (marker === SOS) i = nextMarkerInScan(bytes, i);
  }
  return { ...frame, adobe, complete: false };
}

/** The offset of the first marker after entropy-coded data starting at `from`, or bytes.length. */
function nextMarkerInScan(bytes: Uint8Array, from: number): number {
  let i = from;
  for (;;) {
    i = bytes.indexOf(0xff, i);
    if (i < 0 || i + 1 >= bytes.length) return bytes.length;
    const next = bytes[i + 1];
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
    else if (next === 0xff) i++;
    else return i;
  }
}
