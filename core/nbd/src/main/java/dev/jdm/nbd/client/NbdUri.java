package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A remote NBD export named as libnbd names it (libnbd's {@code nbd_connect_uri}, the NBD URI
 * standard in NetworkBlockDevice/nbd {@code doc/uri.md}):
 *
 * <pre>
 *   nbd://HOST[:PORT][/EXPORT]          TCP, port 10809 by default
 *   nbds://HOST[:PORT][/EXPORT]         TCP with TLS required
 *   nbd+unix:///[EXPORT]?socket=PATH    a Unix socket
 *   nbds+unix:///[EXPORT]?socket=PATH   a Unix socket with TLS required
 * </pre>
 *
 * Query parameters: {@code socket} (Unix schemes only), {@code tls-certificates=DIR} (a directory
 * with {@code ca-cert.pem}, and {@code client-cert.pem} + {@code client-key.pem} when the server
 * wants a client certificate), {@code tls-verify-peer=false} (do not check the server's
 * certificate), {@code tls-hostname=NAME} (the name the certificate must carry). The export name
 * is percent-decoded.
 *
 * @param text the URI as written, which is also the device's path in tables
 * @param tls whether TLS is required
 * @param host the host, null for a Unix socket
 * @param port the TCP port
 * @param socket the Unix socket, null for TCP
 * @param export the export name, "" for the server's default
 * @param certificates libnbd's tls-certificates directory, or null
 * @param verifyPeer whether the server's certificate is checked
 * @param tlsHostname the name the server's certificate must carry, or null for none
 */
public record NbdUri(String text, boolean tls, String host, int port, Path socket, String export,
    Path certificates, boolean verifyPeer, String tlsHostname) {

  /** Whether {@code path} is written as an NBD URI, whatever its validity. */
  public static boolean matches(String path) {
    String p = path.toLowerCase(Locale.ROOT);
    return p.startsWith("nbd://") || p.startsWith("nbds://") || p.startsWith("nbd+unix://")
        || p.startsWith("nbds+unix://");
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException with a short reason when it is not a usable NBD URI
   */
  public static NbdUri parse(String text) {
    int colon = text.indexOf("://");
    if (colon < 0) {
      throw new IllegalArgumentException("not an NBD URI");
    }
    String scheme = text.substring(0, colon).toLowerCase(Locale.ROOT);
    boolean unix = scheme.endsWith("+unix");
    boolean tls = scheme.startsWith("nbds");
    if (!scheme.equals("nbd") && !scheme.equals("nbds") && !scheme.equals("nbd+unix")
        && !scheme.equals("nbds+unix")) {
      throw new IllegalArgumentException("unsupported scheme '" + scheme + "'");
    }
    String rest = text.substring(colon + 3);
    String query = "";
    int q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.substring(q + 1);
      rest = rest.substring(0, q);
    }
    if (rest.indexOf('#') >= 0) {
      throw new IllegalArgumentException("a fragment (#) is not allowed");
    }
    int slash = rest.indexOf('/');
    String authority = slash < 0 ? rest : rest.substring(0, slash);
    String export = slash < 0 ? "" : decode(rest.substring(slash + 1));

    Path socket = null;
    Path certificates = null;
    boolean verifyPeer = true;
    String tlsHostname = null;
    if (!query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String key = decode(eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
        switch (key) {
          case "socket" -> socket = Path.of(value);
          case "tls-certificates" -> certificates = Path.of(value);
          case "tls-verify-peer" -> verifyPeer = bool(key, value);
          case "tls-hostname" -> tlsHostname = value;
          default -> throw new IllegalArgumentException("unknown query parameter '" + key + "'");
        }
      }
    }
    if (unix) {
      if (!authority.isEmpty()) {
        throw new IllegalArgumentException("a Unix socket URI names no host ("
            + scheme + ":///EXPORT?socket=PATH)");
      }
      if (socket == null) {
        throw new IllegalArgumentException("socket=PATH is missing");
      }
      return new NbdUri(text, tls, null, 0, socket, export, certificates, verifyPeer,
          tlsHostname);
    }
    if (socket != null) {
      throw new IllegalArgumentException("socket= is only for " + scheme + "+unix://");
    }
    String host;
    int port = NbdWire.DEFAULT_PORT;
    String portText = null;
    if (authority.startsWith("[")) {
      int end = authority.indexOf(']');
      if (end < 0) {
        throw new IllegalArgumentException("unclosed [ in the host");
      }
      host = authority.substring(1, end);
      if (end + 1 < authority.length()) {
        if (authority.charAt(end + 1) != ':') {
          throw new IllegalArgumentException("junk after ]");
        }
        portText = authority.substring(end + 2);
      }
    } else {
      int c = authority.lastIndexOf(':');
      host = c < 0 ? authority : authority.substring(0, c);
      portText = c < 0 ? null : authority.substring(c + 1);
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException("the host is missing");
    }
    if (host.indexOf('@') >= 0) {
      throw new IllegalArgumentException("user names (user@host) are not supported");
    }
    if (portText != null) {
      try {
        port = Integer.parseInt(portText);
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("invalid port '" + portText + "'");
      }
    }
    return new NbdUri(text, tls, host, port, null, export, certificates, verifyPeer,
        tlsHostname);
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("bad percent-encoding in '" + s + "'");
    }
  }

  private static boolean bool(String key, String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1" -> true;
      case "false", "no", "off", "0" -> false;
      default -> throw new IllegalArgumentException(key + "=" + value + ": expected true or false");
    };
  }

  /** The name checked against the server's certificate: tls-hostname, else the TCP host. */
  String certificateName() {
    return tlsHostname != null ? tlsHostname : host;
  }

  @Override
  public String toString() {
    return text;
  }
}
