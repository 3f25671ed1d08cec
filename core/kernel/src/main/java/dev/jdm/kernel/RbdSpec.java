package dev.jdm.kernel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Ceph RBD image named as qemu names it:
 * {@code rbd:POOL/[NAMESPACE/]IMAGE[@SNAP][:id=CLIENT][:conf=PATH][:KEY=VALUE...]}. A backslash
 * escapes the next character ({@code \:} in a monitor address). {@code id} is the client id
 * (client.ID), {@code conf} the ceph.conf to read; any other {@code KEY=VALUE} is a Ceph option
 * set on the connection ({@code mon_host}, {@code keyring}, {@code rbd_cache}, ...). A snapshot is
 * opened read-only.
 *
 * @param text the path as written
 * @param pool the pool
 * @param namespace the namespace, "" for none
 * @param image the image
 * @param snapshot the snapshot, or null for the image itself
 * @param id the client id, or null for the configured default
 * @param conf the ceph.conf, or null for the configured default
 * @param options the other Ceph options, in the order written
 */
record RbdSpec(String text, String pool, String namespace, String image, String snapshot,
    String id, String conf, Map<String, String> options) {
  static final String PREFIX = "rbd:";

  static boolean matches(String path) {
    return path.startsWith(PREFIX);
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException with a short reason
   */
  static RbdSpec parse(String text) {
    String body = text.substring(PREFIX.length());
    // Cut at unescaped ':' into the name and the options.
    StringBuilder name = new StringBuilder();
    int i = token(body, 0, ':', name, true);
    String spec = name.toString();
    String id = null;
    String conf = null;
    Map<String, String> options = new LinkedHashMap<>();
    while (i < body.length()) {
      StringBuilder option = new StringBuilder();
      i = token(body, i + 1, ':', option, false);
      String o = option.toString();
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("option '" + o + "' is not KEY=VALUE");
      }
      String key = o.substring(0, eq);
      String value = o.substring(eq + 1);
      switch (key) {
        case "id" -> id = value;
        case "conf" -> conf = value;
        default -> options.put(key, value);
      }
    }
    String snapshot = null;
    int at = lastUnescaped(spec, '@');
    if (at >= 0) {
      snapshot = unescape(spec.substring(at + 1));
      spec = spec.substring(0, at);
      if (snapshot.isEmpty()) {
        throw new IllegalArgumentException("empty snapshot name after @");
      }
    }
    String[] parts = splitUnescaped(spec);
    if (parts.length < 2 || parts.length > 3) {
      throw new IllegalArgumentException("expected rbd:POOL/IMAGE[@SNAP][:id=CLIENT][:conf=PATH]");
    }
    String pool = unescape(parts[0]);
    String namespace = parts.length == 3 ? unescape(parts[1]) : "";
    String image = unescape(parts[parts.length - 1]);
    if (pool.isEmpty() || image.isEmpty()) {
      throw new IllegalArgumentException("empty pool or image name");
    }
    return new RbdSpec(text, pool, namespace, image, snapshot, id, conf, Map.copyOf(options));
  }

  /** Copies {@code s} from {@code from} up to an unescaped {@code stop}; the stop's index. */
  private static int token(String s, int from, char stop, StringBuilder out, boolean keepEscapes) {
    int i = from;
    while (i < s.length() && s.charAt(i) != stop) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length()) {
        if (keepEscapes) {
          out.append(c);
        }
        i++;
        c = s.charAt(i);
      }
      out.append(c);
      i++;
    }
    return i;
  }

  private static int lastUnescaped(String s, char c) {
    for (int i = s.length() - 1; i >= 0; i--) {
      if (s.charAt(i) == c && (i == 0 || s.charAt(i - 1) != '\\')) {
        return i;
      }
    }
    return -1;
  }

  private static String[] splitUnescaped(String s) {
    List<String> parts = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == '\\') {
        i++;
      } else if (s.charAt(i) == '/') {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    return parts.toArray(String[]::new);
  }

  private static String unescape(String s) {
    StringBuilder b = new StringBuilder();
    token(s, 0, '\0', b, false);
    return b.toString();
  }

  @Override
  public String toString() {
    return text;
  }
}
