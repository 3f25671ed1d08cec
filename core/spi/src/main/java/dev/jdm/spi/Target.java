package dev.jdm.spi;

import java.util.List;

/**
 * One constructed segment of a table: the kernel's {@code struct dm_target} with its
 * {@code private} data. Built by {@link TargetType#create}; its state is its own final fields.
 *
 * <p>Threading: {@link #map} is called from many threads at once and must not block on I/O or
 * hold a lock across it. The lifecycle calls ({@link #presuspend} .. {@link #resume},
 * {@link #message}, {@link #close}) come one at a time from the control path.
 */
public interface Target extends AutoCloseable {
  /**
   * Maps one request that lies wholly inside this segment; {@link IoRequest#sector()} is relative to
   * the segment's start. DISCARD and WRITE_ZEROES come only if {@link #supports} says so. FLUSH
   * comes only if {@code supports(FLUSH)} (the kernel's {@code num_flush_bios}), with no sectors;
   * otherwise the core sends it to every device in {@link #devices()} itself, and runs a WRITE's
   * {@link IoRequest#PREFLUSH} before the write reaches {@code map}.
   *
   * @return what the target did; on REMAPPED the request was {@link IoRequest#remap}ped, on
   *     SUBMITTED the target completes it itself
   */
  MapResult map(IoRequest request);

  /**
   * The target's status. For {@link StatusType#TABLE}, exactly the constructor arguments, joined by
   * single spaces, such that parsing them back builds an equal target. For
   * {@link StatusType#INFO}, run-time state in the target's documented format ("" when it has none).
   */
  String status(StatusType type);

  /**
   * Handles a {@code message} sent to this target ({@code jdm message DEV SECTOR WORDS...}).
   *
   * @return text for the caller, "" when there is nothing to say
   * @throws TargetException a short phrase when the message is refused
   */
  default String message(List<String> words) throws TargetException {
    throw new TargetException("Target does not support messages");
  }

  /**
   * Called when a request this target {@link MapResult#REMAPPED} has ended on its device, on the
   * thread that ended it, before the original request completes: the kernel's {@code end_io}. Only
   * for types declaring {@link TargetType.Feature#END_IO}. The request's data, sector and device are
   * as the target left them; {@link IoRequest#targetData()} is still bound.
   *
   * @param status how the device ended it
   * @return {@link EndIoResult#DONE} to go on with {@code status} (or with a status the target set
   *     through {@link IoRequest#overrideStatus}), or another outcome
   */
  default EndIoResult endIo(IoRequest request, IoStatus status) {
    return EndIoResult.DONE;
  }

  /**
   * A new, empty per-request state object for the core's pool, or null when the target keeps none
   * (the default); see {@link RequestData}.
   */
  default RequestData newRequestData() {
    return null;
  }

  /**
   * Whether DISCARD and WRITE_ZEROES come whole, cut only at the segment's ends and not at every
   * {@link #maxIoSectors()} boundary (the kernel's {@code num_discard_bios} with
   * {@code split_discard_bios} off): a striped or raid target then maps one range per member.
   */
  default boolean takesWholeRanges() {
    return false;
  }

  /** Whether the target handles {@code op}; the default is READ and WRITE only. */
  default boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE;
  }

  /**
   * Sectors that no request may cross, counted from the segment's start (the kernel's
   * {@code max_io_len}): the core splits at every multiple. 0 means no boundary.
   */
  default long maxIoSectors() {
    return 0;
  }

  /** The devices this target uses; the core flushes each of them and shows them in {@code info}. */
  default List<BlockDevice> devices() {
    return List.of();
  }

  /** This target's I/O hints. */
  default IoLimits limits() {
    return IoLimits.DEFAULT;
  }

  /**
   * Reports allocation of {@code sectors} sectors from {@code sector} (segment-relative), in order.
   * The default says "allocated data"; targets that know of holes or zeros say so.
   */
  default void blockStatus(long sector, long sectors, ExtentSink sink) {
    sink.extent(sectors, 0);
  }

  /** Before I/O is held back for a suspend; in-flight I/O still runs. */
  default void presuspend() {}

  /** After a suspend has drained all in-flight I/O. */
  default void postsuspend() {}

  /**
   * Before this target's table goes live on resume. Throwing keeps the device suspended and the
   * old table live.
   */
  default void preresume() throws TargetException {}

  /** After this target's table went live and held-back I/O is being replayed. */
  default void resume() {}

  /**
   * Releases what the target holds (the kernel's {@code dtr}). Devices opened through the context
   * are released by the core afterwards. Called once, with no I/O in flight.
   */
  @Override
  default void close() {}
}
