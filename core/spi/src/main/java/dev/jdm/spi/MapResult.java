package dev.jdm.spi;

/** What {@link Target#map} did with a request; the kernel's {@code DM_MAPIO_*}. */
public enum MapResult {
  /**
   * The target called {@link IoRequest#remap} and the core now submits the request to the chosen
   * device at the chosen sector. The target must not touch the request afterwards.
   */
  REMAPPED,
  /**
   * The target took the request over and calls {@link IoRequest#complete} itself, now or later,
   * from any thread. The core does nothing more with it.
   */
  SUBMITTED,
  /** Fail the request with {@link IoStatus#EIO}. */
  KILL,
  /** Hand the request back; the core retries it after the device's next resume. */
  REQUEUE
}
