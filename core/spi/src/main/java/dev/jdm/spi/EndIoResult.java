package dev.jdm.spi;

/** What {@link Target#endIo} decided for a finished request; the kernel's {@code DM_ENDIO_*}. */
public enum EndIoResult {
  /** The request is finished: the core goes on completing the original with its status. */
  DONE,
  /**
   * The target keeps the request: it resubmits it (after a {@link IoRequest#remap}) or calls
   * {@link IoRequest#complete} on it later, and {@link Target#endIo} then runs again.
   */
  INCOMPLETE,
  /** Hand the original back; the core retries it after the device's next resume. */
  REQUEUE,
  /** As {@link #REQUEUE}, for a target that wants the retry to wait (a path that may come back). */
  DELAY_REQUEUE
}
