/**
 * Transfer syntaxes: how a data set is encoded and which codec its pixels need.
 */

export type PixelCodec =
  | 'native'
  | 'rle'
  | 'jpeg-baseline' // DCT, sequential or progressive: 8-bit colour (libjpeg-turbo), else our own decoder
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg2000'
  | 'htj2k';

export interface TransferSyntaxInfo {
  readonly uid: string;
  readonly name: string;
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
  readonly deflated: boolean;
  /** Pixel data in fragments (undefined length, items). */
  readonly encapsulated: boolean;
  readonly codec: PixelCodec;
  /** May be lossy (reference comparisons use a tolerance). */
  readonly lossy: boolean;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

function ts(
  uid: string,
  name: string,
  codec: PixelCodec,
  lossy: boolean,
  extra: Partial<Pick<TransferSyntaxInfo, 'explicitVr' | 'littleEndian' | 'deflated'>> = {},
): TransferSyntaxInfo {
  return {
    uid,
    name,
    explicitVr: extra.explicitVr ?? true,
    littleEndian: extra.littleEndian ?? true,
    deflated: extra.deflated ?? false,
    encapsulated: codec !== 'native',
    codec,
    lossy,
  };
}

const TABLE: readonly TransferSyntaxInfo[] = [
  ts(IMPLICIT_VR_LITTLE_ENDIAN, 'Implicit VR Little Endian', 'native', false, { explicitVr: false }),
  ts(EXPLICIT_VR_LITTLE_ENDIAN, 'Explicit VR Little Endian', 'native', false),
  ts(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, 'Deflated Explicit VR Little Endian', 'native', false, { deflated: true }),
  ts(EXPLICIT_VR_BIG_ENDIAN, 'Explicit VR Big Endian', 'native', false, { littleEndian: false }),
  ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle', false),
  ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline', true),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 and 4)', 'jpeg-baseline', true),
  // Retired, but dcmtk still writes them (dcmcjpeg +es, +ep) and archives hold them.
  ts('1.2.840.10008.1.2.4.53', 'JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8, retired)', 'jpeg-baseline', true),
  ts('1.2.840.10008.1.2.4.55', 'JPEG Full Progression, Non-Hierarchical (Process 10 and 12, retired)', 'jpeg-baseline', true),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless (Process 14)', 'jpeg-lossless', false),
  ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless (Process 14, Selection Value 1)', 'jpeg-lossless', false),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpeg-ls', false),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'jpeg-ls', true),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'jpeg2000', false),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg2000', true),
  ts('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)', 'htj2k', false),
  ts('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', 'htj2k', false),
  ts('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000', 'htj2k', true),
];

/** Named but not decodable here: recognised so the message can say what they are. */
const KNOWN_UNSUPPORTED: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.52': 'JPEG Extended (Process 3 and 5, retired)',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Multi-component (Lossless Only)',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2 Multi-component',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP Referenced Deflate',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.101': 'MPEG2 High Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 for 2D Video',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 for 3D Video',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 Stereo',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 Main 10 Profile',
  '1.2.840.10008.1.2.6.1': 'RFC 2557 MIME encapsulation (retired)',
  '1.2.840.10008.1.2.6.2': 'XML Encoding (retired)',
};

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return BY_UID.get(uid);
}

export function transferSyntaxName(uid: string): string {
  return BY_UID.get(uid)?.name ?? KNOWN_UNSUPPORTED[uid] ?? 'an unknown transfer syntax';
}
