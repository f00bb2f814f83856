const KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

/** A byte count for messages: "3.0 GiB", "16.0 MiB", "12.5 KiB", "100 bytes". */
export const formatBytes = (n: number): string =>
  n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : n >= KiB ? `${(n / KiB).toFixed(1)} KiB` : `${n} bytes`;
