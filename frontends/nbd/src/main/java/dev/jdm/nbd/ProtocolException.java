package dev.jdm.nbd;

import java.io.IOException;

/** The client broke the protocol in a way that leaves no safe reply: the connection is closed. */
final class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  ProtocolException(String message) {
    super(message);
  }
}
