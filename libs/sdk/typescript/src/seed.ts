// Seeds are uint64 in the protos, so protobuf-es gives them as `bigint`: exact for every value up
// to 2**64 - 1, where a JS number is exact only up to 2**53. JSON.stringify throws on a bigint, so
// these helpers turn them into decimal strings (the proto3 JSON form of a 64-bit integer) and back.

const MAX_UINT64 = (1n << 64n) - 1n;

/** A seed from a decimal string, a safe integer or a bigint; RangeError outside 0..2**64-1. */
export function parseSeed(value: string | number | bigint): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`seed ${value} is not a safe integer; pass it as a string or bigint`);
  }
  if (typeof value === "string" && !/^[0-9]+$/.test(value)) {
    throw new RangeError(`seed ${JSON.stringify(value)} is not a decimal unsigned integer`);
  }
  const seed = BigInt(value);
  if (seed < 0n || seed > MAX_UINT64) {
    throw new RangeError(`seed ${seed} is outside 0..${MAX_UINT64}`);
  }
  return seed;
}

/** A JSON.stringify replacer that writes every bigint (seeds) as a decimal string. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** JSON.stringify that accepts messages with seeds: bigints become decimal strings. */
export function toJsonString(value: unknown, space?: number): string {
  return JSON.stringify(value, bigintReplacer, space);
}
