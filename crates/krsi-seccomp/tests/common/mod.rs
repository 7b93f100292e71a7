pub mod libseccomp;
