package dev.jdm.nbd;

import dev.jdm.kernel.MappedDevice;
import dev.jdm.nbd.protocol.Transport;

/**
 * What the handshake agreed on, for the transmission phase.
 *
 * @param transport the stream to use from now on (TLS if STARTTLS happened)
 * @param device the export's device
 * @param structured whether structured replies were negotiated
 * @param blockStatus whether base:allocation was selected for this export
 * @param flags the transmission flags sent to the client
 * @param blockSizesAgreed whether the client asked for NBD_INFO_BLOCK_SIZE in NBD_OPT_GO, and so
 *     promised to send only requests aligned to the minimum block
 */
record Session(Transport transport, MappedDevice device, boolean structured, boolean blockStatus,
    int flags, boolean blockSizesAgreed) {}
