const KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

/** Upper bounds on what gradlens reads (README: limits), in Node and in the browser. */
export const LIMITS = {
  /** config.json, tokenizer_config.json, generation_config.json, … */
  configJson: 16 * MiB,
  /** tokenizer.json (the largest multilingual vocabularies are tens of MB). */
  tokenizerJson: 256 * MiB,
  /** An ONNX file, and a model with its external data inlined: protobuf messages are limited to 2 GiB. */
  model: 2 * GiB - 1,
  /** A text argument read from a file or stdin (-t @file). */
  text: 16 * MiB,
  /** A batch input file (JSONL), and one line of it. */
  batchInput: 16 * GiB,
  batchLine: 64 * MiB,
  /** An image file (PNG or JPEG) for explain image; its decoded size is bounded by models/image.ts MAX_PIXELS. */
  image: 64 * MiB,
  /** A CSV table for explain tabular. */
  table: 256 * MiB,
} as const;
