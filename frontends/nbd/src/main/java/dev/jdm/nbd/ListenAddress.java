package dev.jdm.nbd;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * One configured address: {@code HOST:PORT} ({@code [v6addr]:PORT} for IPv6), or
 * {@code unix:/path/to/socket} (a bare absolute path means the same), or {@code unix:NAME}, a
 * socket in the daemon's runtime directory.
 *
 * @param text the address as configured
 * @param address what to bind
 */
record ListenAddress(String text, SocketAddress address) {
  private static final String UNIX = "unix:";

  /** Parses {@code text}; the message of the exception says what is wrong with it. */
  static ListenAddress parse(String text) {
    return parse(text, null);
  }

  /**
   * Parses {@code text}, a relative unix socket path lying in {@code runtimeDir} (null when there
   * is none: then it is an error).
   */
  static ListenAddress parse(String text, Path runtimeDir) {
    if (text.startsWith(UNIX) || text.startsWith("/")) {
      String path = text.startsWith(UNIX) ? text.substring(UNIX.length()) : text;
      if (!path.isEmpty() && !path.startsWith("/") && runtimeDir != null) {
        path = runtimeDir.toAbsolutePath().resolve(path).normalize().toString();
      }
      if (path.isEmpty() || !path.startsWith("/")) {
        throw new IllegalArgumentException("'" + text + "': a unix socket needs an absolute path,"
            + " e.g. unix:/run/jdm/nbd.sock, or a name in jdm.runtime-dir");
      }
      return new ListenAddress(UNIX + path, UnixDomainSocketAddress.of(Path.of(path)));
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException("'" + text + "': expected HOST:PORT or unix:/path");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException("'" + text + "': write an IPv6 host in brackets, e.g."
          + " [::1]:10809");
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("'" + text + "': the port must be a number from 0 to"
          + " 65535");
    }
    InetSocketAddress a = new InetSocketAddress(host, port);
    if (a.isUnresolved()) {
      throw new IllegalArgumentException("'" + text + "': unknown host '" + host + "'");
    }
    return new ListenAddress(text, a);
  }

  /** The socket file of a unix address, else null. */
  Path socketPath() {
    return address instanceof UnixDomainSocketAddress u ? u.getPath() : null;
  }
}
