package dev.jdm.cli;

import dev.jdm.daemon.ControlProtocol;
import dev.jdm.daemon.ControlProtocol.Reply;
import java.io.IOException;
import java.net.SocketException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Sends one request to the daemon over its control socket and returns the reply. */
final class ControlClient {
  private ControlClient() {}

  /**
   * Sends {@code verb} and its arguments to the daemon whose runtime directory is {@code dir}.
   *
   * @throws IOException with a one-line message when the daemon cannot be reached
   */
  static Reply call(Path dir, String verb, List<String> args) throws IOException {
    Path socket = dir.resolve(ControlProtocol.SOCKET);
    List<String> request = new ArrayList<>(args.size() + 2);
    request.add(ControlProtocol.VERSION);
    request.add(verb);
    request.addAll(args);
    SocketChannel ch;
    try {
      ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    } catch (SocketException e) {
      throw new IOException("cannot reach the jdm daemon at " + socket + ": " + e.getMessage()
          + " (is 'jdm serve' running there? --runtime-dir or JDM_RUNTIME_DIR choose the place)");
    }
    try (ch) {
      ControlProtocol.write(ch, request);
      ch.shutdownOutput();
      return ControlProtocol.Reply.of(ControlProtocol.read(ch));
    } catch (IOException e) {
      throw new IOException("jdm daemon at " + socket + ": " + e.getMessage(), e);
    }
  }
}
