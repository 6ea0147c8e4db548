package dev.cadenza.sdk;

/**
 * Seeds are uint64 in the protos; protobuf-java stores them in a signed {@code long}, so seeds from
 * 2^63 up read as negative numbers. These convert between the unsigned decimal form (what the
 * suite, the CLI and JSON show) and the long the messages hold.
 */
public final class Seeds {
  private Seeds() {}

  /** "18446744073709551557" -> the long for setSeed(); NumberFormatException outside 0..2^64-1. */
  public static long parse(String decimal) {
    return Long.parseUnsignedLong(decimal);
  }

  /** getSeed() -> its unsigned decimal form. */
  public static String toString(long seed) {
    return Long.toUnsignedString(seed);
  }
}
