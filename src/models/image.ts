/**
 * Images for image models, in Node and in the browser: PNG and JPEG decoding (fast-png, jpeg-js), PIL's resampling
 * filters, centre crop, and the Hugging Face image processor's rescale and normalise, from preprocessor_config.json
 * or from --size/--mean/--std for a bare ONNX file.
 */
import { decode as decodePng, encode as encodePng, hasPngSignature, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';

/** 8-bit RGB pixels, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The most pixels gradlens decodes (an image that declares more is refused before any pixel is decoded). */
export const MAX_PIXELS = 40_000_000;

const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** Decodes a PNG or JPEG file to 8-bit RGB (alpha dropped, as PIL's convert("RGB") does; grey expanded). */
export function decodeImage(bytes: Uint8Array, what = 'the image'): RgbImage {
  if (bytes.length >= 8 && hasPngSignature(bytes)) return decodePngRgb(bytes, what);
  if (isJpeg(bytes)) return decodeJpegRgb(bytes, what);
  fail(`${what} is neither a PNG nor a JPEG file (its first bytes are not a PNG or JPEG signature)`);
}

function decodePngRgb(bytes: Uint8Array, what: string): RgbImage {
  // IHDR is the first chunk: width and height are big-endian at bytes 16 and 20.
  if (bytes.length < 33) fail(`${what}: the PNG file is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = view.getUint32(16), h = view.getUint32(20);
  if (w === 0 || h === 0) fail(`${what}: the PNG declares an empty image (${w}×${h})`);
  if (w * h > MAX_PIXELS) fail(`${what}: the PNG declares ${w}×${h} pixels, more than the ${MAX_PIXELS / 1e6} megapixels gradlens decodes`);
  let png;
  try {
    png = decodePng(bytes);
  } catch (e) {
    fail(`${what}: cannot decode the PNG (${oneLine(e)})`);
  }
  let data = png.data;
  let channels = png.channels;
  if (png.palette) {
    data = convertIndexedToRgb(png);
    channels = png.palette[0]?.length ?? 3;
  }
  const n = png.width * png.height;
  if (data.length < n * channels) fail(`${what}: the PNG's pixel data is truncated`);
  const shift = png.depth === 16 ? 8 : 0;
  const scale = png.depth < 8 && !png.palette ? 255 / (2 ** png.depth - 1) : 1;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      // Grey (1 channel) and grey + alpha (2) expand to three equal channels; RGBA drops alpha.
      const src = channels >= 3 ? c : 0;
      out[i * 3 + c] = Math.round((data[i * channels + src]! >> shift) * scale);
    }
  }
  return { width: png.width, height: png.height, data: out };
}

function decodeJpegRgb(bytes: Uint8Array, what: string): RgbImage {
  let img;
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    fail(`${what}: cannot decode the JPEG (${oneLine(e)})`);
  }
  if (!img.width || !img.height) fail(`${what}: the JPEG has no image data`);
  return { width: img.width, height: img.height, data: img.data as Uint8Array };
}

const oneLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 200);

/** Encodes 8-bit RGB (3 channels) or RGBA (4) pixels as a PNG file. */
export function encodeRgbPng(width: number, height: number, data: Uint8Array, channels: 3 | 4 = 3): Uint8Array {
  return encodePng({ width, height, data, channels, depth: 8 });
}

// ---- resampling: PIL's filters (Image.resize, reducing_gap None) --------------------------------------------------

/** PIL's resample codes, as preprocessor_config.json gives them. */
export const RESAMPLE = { nearest: 0, lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;

interface Filter { support: number; f(x: number): number }
const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const FILTERS: Record<number, Filter> = {
  1: { support: 3, f: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
  2: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  3: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  4: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  5: { support: 1, f: (x) => (Math.abs(x) < 1 ? 0.54 + 0.46 * Math.cos(Math.PI * x) : 0) },
};

/** Per output position: the first input index and the normalised weights (PIL's precompute_coeffs). */
function coefficients(inSize: number, outSize: number, filter: Filter): { start: number[]; weights: number[][] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const start: number[] = [], weights: number[][] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w: number[] = [];
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const v = filter.f((i - center + 0.5) / filterScale);
      w.push(v);
      sum += v;
    }
    start.push(lo);
    weights.push(w.map((v) => (sum === 0 ? 0 : v / sum)));
  }
  return { start, weights };
}

const clampByte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** Resizes with one of PIL's filters (horizontal pass, then vertical, 8-bit between them as PIL does). */
export function resizeImage(img: RgbImage, width: number, height: number, resample: number = RESAMPLE.bilinear): RgbImage {
  if (width === img.width && height === img.height) return img;
  if (resample === RESAMPLE.nearest) {
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const sy = Math.min(Math.trunc((y + 0.5) * img.height / height), img.height - 1);
      for (let x = 0; x < width; x++) {
        const sx = Math.min(Math.trunc((x + 0.5) * img.width / width), img.width - 1);
        for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c]!;
      }
    }
    return { width, height, data: out };
  }
  const filter = FILTERS[resample] ?? fail(`resample ${resample} is not one of PIL's filters (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  let cur = img;
  if (width !== img.width) {
    const { start, weights } = coefficients(img.width, width, filter);
    const out = new Uint8Array(width * img.height * 3);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < width; x++) {
        const w = weights[x]!, s = start[x]!;
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let k = 0; k < w.length; k++) v += w[k]! * img.data[(y * img.width + s + k) * 3 + c]!;
          out[(y * width + x) * 3 + c] = clampByte(v);
        }
      }
    }
    cur = { width, height: img.height, data: out };
  }
  if (height !== cur.height) {
    const { start, weights } = coefficients(cur.height, height, filter);
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const w = weights[y]!, s = start[y]!;
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let k = 0; k < w.length; k++) v += w[k]! * cur.data[((s + k) * width + x) * 3 + c]!;
          out[(y * width + x) * 3 + c] = clampByte(v);
        }
      }
    }
    cur = { width, height, data: out };
  }
  return cur;
}

/** The central height × width region (the HF image processors' center_crop; padded with black where larger). */
export function centerCrop(img: RgbImage, width: number, height: number): RgbImage {
  const top = Math.trunc((img.height - height) / 2), left = Math.trunc((img.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c]!;
    }
  }
  return { width, height, data: out };
}

// ---- the image processor ---------------------------------------------------------------------------------------

/** What turns an image into the model's pixel_values: the fields of preprocessor_config.json gradlens applies. */
export interface ImageProcessor {
  /** Resize target: exact size, or the shortest edge (aspect kept, optionally bounded by the longest edge). */
  resize?: { height: number; width: number } | { shortestEdge: number; longestEdge?: number };
  resample: number;
  crop?: { height: number; width: number };
  rescale?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  /** Where the processor came from (for reports). */
  source: string;
}

const MAX_SIDE = 8192;

function side(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIDE) fail(`${what} must be an integer from 1 to ${MAX_SIDE}, got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v;
}

function sizeOf(v: unknown, what: string, square: boolean): ImageProcessor['resize'] {
  if (typeof v === 'number') return square ? { height: side(v, what), width: side(v, what) } : { shortestEdge: side(v, what) };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('height' in o || 'width' in o) return { height: side(o['height'], `${what}.height`), width: side(o['width'], `${what}.width`) };
    if ('shortest_edge' in o) {
      return { shortestEdge: side(o['shortest_edge'], `${what}.shortest_edge`), ...(o['longest_edge'] !== undefined ? { longestEdge: side(o['longest_edge'], `${what}.longest_edge`) } : {}) };
    }
  }
  fail(`${what} must be a number, {"height", "width"} or {"shortest_edge"}, got ${JSON.stringify(v)?.slice(0, 80)}`);
}

function triple(v: unknown, what: string): [number, number, number] {
  const arr = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`${what} must be three numbers (r, g, b), got ${JSON.stringify(v)?.slice(0, 80)}`);
  return arr as [number, number, number];
}

/** The image processor a preprocessor_config.json describes (ViT, ConvNeXt, ResNet, DeiT, BEiT, DETR-style fields). */
export function imageProcessorFromConfig(raw: Record<string, unknown>, what = 'preprocessor_config.json'): ImageProcessor {
  const flag = (k: string, dflt: boolean) => (raw[k] === undefined ? dflt : raw[k] === true);
  const p: ImageProcessor = { resample: RESAMPLE.bilinear, source: what };
  if (raw['resample'] !== undefined) {
    const r = raw['resample'];
    if (typeof r !== 'number' || !(r in FILTERS || r === 0)) fail(`${what}: resample must be one of PIL's filter codes 0–5, got ${JSON.stringify(r)?.slice(0, 40)}`);
    p.resample = r;
  }
  if (flag('do_resize', true) && raw['size'] !== undefined) {
    let resize = sizeOf(raw['size'], `${what}: size`, true);
    // ConvNeXt: below 384 px the image is resized to shortest_edge / crop_pct, then centre-cropped to shortest_edge.
    const cropPct = raw['crop_pct'];
    if (resize && 'shortestEdge' in resize && typeof cropPct === 'number' && cropPct > 0 && cropPct <= 1 && resize.shortestEdge < 384) {
      const s = resize.shortestEdge;
      resize = { shortestEdge: Math.trunc(s / cropPct) };
      p.crop = { height: s, width: s };
    } else if (resize && 'shortestEdge' in resize && typeof cropPct === 'number' && resize.shortestEdge >= 384) {
      resize = { height: resize.shortestEdge, width: resize.shortestEdge };
    }
    p.resize = resize;
  }
  if (flag('do_center_crop', false) && raw['crop_size'] !== undefined) {
    const c = sizeOf(raw['crop_size'], `${what}: crop_size`, true)!;
    if (!('height' in c)) fail(`${what}: crop_size must be {"height", "width"} or a number`);
    p.crop = c;
  }
  if (flag('do_rescale', true)) {
    const f = raw['rescale_factor'] ?? 1 / 255;
    if (typeof f !== 'number' || !Number.isFinite(f)) fail(`${what}: rescale_factor must be a number`);
    p.rescale = f;
  }
  if (flag('do_normalize', true) && (raw['image_mean'] !== undefined || raw['image_std'] !== undefined)) {
    p.mean = triple(raw['image_mean'] ?? [0.5, 0.5, 0.5], `${what}: image_mean`);
    p.std = triple(raw['image_std'] ?? [0.5, 0.5, 0.5], `${what}: image_std`);
    if (p.std.some((s) => s === 0)) fail(`${what}: image_std has a zero`);
  }
  return p;
}

/** The output size of a shortest-edge resize (HF's get_resize_output_image_size, default_to_square False). */
function shortestEdgeSize(w: number, h: number, s: number, longest?: number): { width: number; height: number } {
  const short = Math.min(w, h), long = Math.max(w, h);
  let newShort = s, newLong = Math.trunc(s * long / short);
  if (longest !== undefined && newLong > longest) {
    newShort = Math.trunc(longest * newShort / newLong);
    newLong = longest;
  }
  return w <= h ? { width: newShort, height: newLong } : { width: newLong, height: newShort };
}

/** Resize and crop: the image the model sees, as 8-bit RGB (also what the views draw on). */
export function prepareImage(img: RgbImage, p: ImageProcessor): RgbImage {
  let out = img;
  if (p.resize) {
    const size = 'height' in p.resize ? p.resize : shortestEdgeSize(img.width, img.height, p.resize.shortestEdge, p.resize.longestEdge);
    out = resizeImage(out, size.width, size.height, p.resample);
  }
  if (p.crop) out = centerCrop(out, p.crop.width, p.crop.height);
  return out;
}

/** Rescale and normalise 8-bit RGB to pixel_values [1, 3, H, W] (channels first) or [1, H, W, 3] (channels last). */
export function pixelValues(img: RgbImage, p: ImageProcessor, layout: 'nchw' | 'nhwc' = 'nchw'): HostTensor {
  const { width: w, height: h } = img;
  const data = new Float32Array(w * h * 3);
  const rescale = p.rescale ?? 1;
  for (let c = 0; c < 3; c++) {
    const mean = p.mean?.[c] ?? 0, std = p.std?.[c] ?? 1;
    for (let i = 0; i < w * h; i++) {
      const v = (img.data[i * 3 + c]! * rescale - mean) / std;
      data[layout === 'nchw' ? c * w * h + i : i * 3 + c] = v;
    }
  }
  return { type: 'float32', data, dims: layout === 'nchw' ? [1, 3, h, w] : [1, h, w, 3] };
}

/** A uniform-colour image (black: 0, 0, 0) of a size. */
export function solidImage(width: number, height: number, rgb: [number, number, number] = [0, 0, 0]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

/** Gaussian blur of float pixel values (channels first, [1, C, H, W]) with edge clamping: the blur baseline. */
export function gaussianBlur(t: HostTensor, sigma: number, layout: 'nchw' | 'nhwc' = 'nchw'): HostTensor {
  const [, a, b, c] = t.dims as [number, number, number, number];
  const [C, H, W] = layout === 'nchw' ? [a, b, c] : [c, a, b];
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const ksum = kernel.reduce((x, y) => x + y, 0);
  const k = kernel.map((v) => v / ksum);
  const at = (ch: number, y: number, x: number) => (layout === 'nchw' ? (ch * H + y) * W + x : (y * W + x) * C + ch);
  const src = t.data as Float32Array;
  const tmp = new Float32Array(src.length), out = new Float32Array(src.length);
  for (let ch = 0; ch < C; ch++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -radius; j <= radius; j++) s += k[j + radius]! * src[at(ch, y, Math.min(W - 1, Math.max(0, x + j)))]!;
        tmp[at(ch, y, x)] = s;
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -radius; j <= radius; j++) s += k[j + radius]! * tmp[at(ch, Math.min(H - 1, Math.max(0, y + j)), x)]!;
        out[at(ch, y, x)] = s;
      }
    }
  }
  return { type: 'float32', data: out, dims: [...t.dims] };
}
