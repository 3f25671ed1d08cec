package dev.jdm.nbd.protocol;

import java.io.IOException;

/** The peer broke the protocol in a way that leaves no safe reply: the connection is closed. */
public final class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) {
    super(message);
  }
}
