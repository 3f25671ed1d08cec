package dev.jdm.spi;

/** What an {@link IoRequest} asks for; the block layer's {@code REQ_OP_*}. */
public enum IoOp {
  /** Fill the request's data buffer from the device. */
  READ,
  /** Store the request's data buffer on the device. */
  WRITE,
  /** Make every completed write durable. Carries no sectors and no data. */
  FLUSH,
  /** The range is no longer needed; later reads may return anything. Carries no data. */
  DISCARD,
  /** Later reads of the range return zeros. Carries no data. */
  WRITE_ZEROES;

  /** Whether requests of this op carry a data buffer. */
  public boolean hasData() {
    return this == READ || this == WRITE;
  }

  /** Whether this op changes what the device stores. */
  public boolean changesData() {
    return this == WRITE || this == DISCARD || this == WRITE_ZEROES;
  }
}
