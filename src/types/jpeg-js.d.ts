// Types of the part of jpeg-js gradlens uses (the package ships none).
declare module 'jpeg-js' {
  export interface DecodeOptions {
    useTArray?: boolean;
    formatAsRGBA?: boolean;
    colorTransform?: boolean;
    tolerantDecoding?: boolean;
    maxResolutionInMP?: number;
    maxMemoryUsageInMB?: number;
  }
  export interface DecodedJpeg { width: number; height: number; data: Uint8Array }
  export function decode(data: ArrayLike<number> | ArrayBuffer, options?: DecodeOptions): DecodedJpeg;
  export function encode(image: { width: number; height: number; data: ArrayLike<number> }, quality?: number): { data: Uint8Array; width: number; height: number };
  const jpeg: { decode: typeof decode; encode: typeof encode };
  export default jpeg;
}
