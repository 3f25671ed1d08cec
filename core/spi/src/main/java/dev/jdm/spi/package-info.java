/**
 * The jdm Target SPI: the user-space counterpart of the kernel's {@code struct target_type}.
 *
 * <p>A plugin provides a {@link dev.jdm.spi.TargetType} through {@link java.util.ServiceLoader}. The
 * core calls {@link dev.jdm.spi.TargetType#create} for each table line naming it, then sends every
 * I/O request that falls into that segment to {@link dev.jdm.spi.Target#map}. This package depends
 * on the JDK alone. See {@code AUTHORING.md} beside this module.
 */
package dev.jdm.spi;
