//! Throwaway test servers (see module docs).
