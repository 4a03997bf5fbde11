//! Frame builders shared by the services (to be written with the IP/UDP emitters).
