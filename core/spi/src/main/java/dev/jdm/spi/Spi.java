package dev.jdm.spi;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The SPI itself: its version, which the host checks against a plugin's {@code Plugin-Requires}
 * manifest header (a semantic-version range such as {@code ^1.0.0}) before loading the plugin.
 */
public final class Spi {
  /**
   * This SPI's semantic version, e.g. {@code 1.0.0}: the minor number goes up when the SPI gains
   * something old plugins do not need (a default method, a new type), the major one when a plugin
   * built against the old SPI may no longer load or work. Read at run time, never inlined into a
   * plugin's classes.
   */
  public static final String VERSION = load();

  private Spi() {}

  private static String load() {
    try (InputStream in = Spi.class.getResourceAsStream("spi.properties")) {
      if (in == null) {
        throw new IllegalStateException("dev/jdm/spi/spi.properties is missing from the build");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
