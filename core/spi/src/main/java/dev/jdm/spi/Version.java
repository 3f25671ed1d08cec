package dev.jdm.spi;

/**
 * A target type's version, printed as {@code vMAJOR.MINOR.PATCH} the way {@code dmsetup targets}
 * does. Bump the minor number when the table grammar gains an optional argument, the major when an
 * old table line would no longer mean the same.
 */
public record Version(int major, int minor, int patch) {
  public Version {
    if (major < 0 || minor < 0 || patch < 0) {
      throw new IllegalArgumentException("version numbers are never negative");
    }
  }

  /** Builds a version from its three numbers. */
  public static Version of(int major, int minor, int patch) {
    return new Version(major, minor, patch);
  }

  @Override
  public String toString() {
    return "v" + major + "." + minor + "." + patch;
  }
}
