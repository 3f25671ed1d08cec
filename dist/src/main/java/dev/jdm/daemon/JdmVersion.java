package dev.jdm.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** jdm's version, written into {@code jdm/version.properties} by the build. */
public final class JdmVersion {
  private static final String VERSION = load();

  private JdmVersion() {}

  /** The version, e.g. {@code 0.1.0}. */
  public static String get() {
    return VERSION;
  }

  private static String load() {
    try (InputStream in = JdmVersion.class.getResourceAsStream("/jdm/version.properties")) {
      if (in == null) {
        throw new IllegalStateException("jdm/version.properties is missing from the build");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
