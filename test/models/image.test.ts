import { test } from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { GradlensError } from '../../src/errors.js';
import { centerCrop, decodeImage, encodeRgbPng, gaussianBlur, imageProcessorFromConfig, pixelValues, prepareImage, resizeImage, solidImage, MAX_PIXELS, type RgbImage } from '../../src/models/image.js';
import { encode as encodePng } from 'fast-png';

const gradient = (w: number, h: number): RgbImage => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 10 % 256, y * 20 % 256, (x + y) % 256], (y * w + x) * 3);
  return { width: w, height: h, data };
};

test('PNG round trip: 8-bit RGB, RGBA (alpha dropped), grey, 16-bit', () => {
  const img = gradient(7, 5);
  assert.deepEqual(decodeImage(encodeRgbPng(7, 5, img.data)), img);
  const rgba = new Uint8Array(7 * 5 * 4);
  for (let i = 0; i < 35; i++) rgba.set([...img.data.subarray(i * 3, i * 3 + 3), 17], i * 4);
  assert.deepEqual(decodeImage(encodeRgbPng(7, 5, rgba, 4)).data, img.data);
  const grey = encodePng({ width: 2, height: 1, data: new Uint8Array([10, 200]), channels: 1, depth: 8 });
  assert.deepEqual(Array.from(decodeImage(grey).data), [10, 10, 10, 200, 200, 200]);
  const deep = encodePng({ width: 1, height: 1, data: new Uint16Array([0x1234, 0xff00, 0x00ff]), channels: 3, depth: 16 });
  assert.deepEqual(Array.from(decodeImage(deep).data), [0x12, 0xff, 0x00]);
});

test('JPEG decoding (quality 100 of a flat colour comes back within 2 levels)', () => {
  const w = 16, h = 8;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([200, 100, 50, 255], i * 4);
  const file = jpeg.encode({ width: w, height: h, data: rgba }, 100).data;
  const img = decodeImage(new Uint8Array(file));
  assert.equal(img.width, w);
  assert.equal(img.height, h);
  for (let i = 0; i < w * h; i++) {
    assert.ok(Math.abs(img.data[i * 3]! - 200) <= 2 && Math.abs(img.data[i * 3 + 1]! - 100) <= 2 && Math.abs(img.data[i * 3 + 2]! - 50) <= 2, `pixel ${i}: ${img.data.subarray(i * 3, i * 3 + 3)}`);
  }
});

test('bad image bytes: one clear error each, nothing decoded past the header', () => {
  const err = (re: RegExp) => (e: unknown) => e instanceof GradlensError && re.test(e.message);
  assert.throws(() => decodeImage(new TextEncoder().encode('hello, not an image'), 'x.png'), err(/x\.png is neither a PNG nor a JPEG/));
  const png = encodeRgbPng(4, 4, new Uint8Array(48));
  assert.throws(() => decodeImage(png.subarray(0, 40), 'cut.png'), err(/cut\.png: cannot decode the PNG/));
  // A header declaring 100000 × 100000 pixels is refused before decoding.
  const bomb = Uint8Array.from(png);
  new DataView(bomb.buffer).setUint32(16, 100_000);
  new DataView(bomb.buffer).setUint32(20, 100_000);
  assert.throws(() => decodeImage(bomb, 'bomb.png'), err(new RegExp(`bomb\\.png: the PNG declares 100000×100000 pixels, more than the ${MAX_PIXELS / 1e6} megapixels`)));
  assert.throws(() => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]), 'bad.jpg'), err(/bad\.jpg: cannot decode the JPEG/));
});

test('resize: PIL\'s bilinear filter (downscale 4 → 2 averages pairs with the triangle filter; upscale interpolates)', () => {
  const row = (vals: number[]): RgbImage => ({ width: vals.length, height: 1, data: Uint8Array.from(vals.flatMap((v) => [v, v, v])) });
  // Downscale by 2: support 2 px, weights of input pixels around centre 1.0 (out 0): x=0 → 0.75·? … PIL gives
  // out[0] = (3·a + 3·b + 1·c)/7 … computed: centre (0 + 0.5)·2 = 1, inputs 0,1,2 at distances 0.5, 0.5, 1.5 (÷2) → 0.75, 0.75, 0.25.
  const down = resizeImage(row([0, 100, 200, 40]), 2, 1);
  assert.equal(down.data[0], Math.round((0.75 * 0 + 0.75 * 100 + 0.25 * 200) / 1.75));
  assert.equal(down.data[3], Math.round((0.25 * 100 + 0.75 * 200 + 0.75 * 40) / 1.75));
  // Upscale 2 → 4: half-pixel centres, edge pixels clamp.
  const up = resizeImage(row([0, 200]), 4, 1);
  assert.deepEqual([0, 1, 2, 3].map((i) => up.data[i * 3]), [0, 50, 150, 200]);
  assert.equal(resizeImage(row([9, 8]), 2, 1).data[0], 9, 'same size: unchanged');
  const nearest = resizeImage(row([1, 2, 3, 4]), 2, 1, 0);
  assert.deepEqual([nearest.data[0], nearest.data[3]], [2, 4]);
});

test('preprocessor_config.json: ViT (exact size), ConvNeXt (crop_pct), shortest edge + centre crop; pixel values', () => {
  const vit = imageProcessorFromConfig({ do_resize: true, size: { height: 4, width: 6 }, resample: 2, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
  const img = prepareImage(gradient(12, 8), vit);
  assert.deepEqual([img.width, img.height], [6, 4]);
  const px = pixelValues(img, vit);
  assert.deepEqual(px.dims, [1, 3, 4, 6]);
  assert.ok(Math.abs((px.data as Float32Array)[0]! - (img.data[0]! / 255 - 0.5) / 0.5) < 1e-6);
  // channel 1 of pixel (0, 1) in NCHW and NHWC
  const nhwc = pixelValues(img, vit, 'nhwc');
  assert.equal((nhwc.data as Float32Array)[(0 * 6 + 1) * 3 + 1], (px.data as Float32Array)[1 * 24 + 0 * 6 + 1]);

  const convnext = imageProcessorFromConfig({ size: { shortest_edge: 224 }, crop_pct: 0.875, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], resample: 3 });
  assert.deepEqual(convnext.resize, { shortestEdge: 256 });
  assert.deepEqual(convnext.crop, { height: 224, width: 224 });
  const wide = prepareImage(gradient(400, 300), convnext);
  assert.deepEqual([wide.width, wide.height], [224, 224]);

  const resnet = imageProcessorFromConfig({ size: { shortest_edge: 8 }, do_center_crop: true, crop_size: { height: 8, width: 8 } });
  assert.deepEqual([prepareImage(gradient(20, 10), resnet).width, prepareImage(gradient(20, 10), resnet).height], [8, 8]);
  assert.throws(() => imageProcessorFromConfig({ size: { height: 0, width: 3 } }), /size\.height must be an integer from 1/);
  assert.throws(() => imageProcessorFromConfig({ image_mean: [1, 2], image_std: [1, 1, 1] }), /image_mean must be three numbers/);
  assert.throws(() => imageProcessorFromConfig({ image_mean: [0, 0, 0], image_std: [1, 0, 1] }), /image_std has a zero/);
});

test('centre crop and blur', () => {
  const c = centerCrop(gradient(5, 5), 3, 3);
  assert.deepEqual(Array.from(c.data.subarray(0, 3)), Array.from(gradient(5, 5).data.subarray((1 * 5 + 1) * 3, (1 * 5 + 1) * 3 + 3)));
  const flat = pixelValues(solidImage(6, 6, [10, 20, 30]), { resample: 2, rescale: 1, source: 'test' });
  const blurred = gaussianBlur(flat, 2);
  assert.ok(Array.from(blurred.data as Float32Array).every((v, i) => Math.abs(v - (flat.data as Float32Array)[i]!) < 1e-4), 'a flat image stays flat');
});
