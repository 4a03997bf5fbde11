//! IP and UDP layers shared by the IP-based frame kinds (waiting for the wire modules).
