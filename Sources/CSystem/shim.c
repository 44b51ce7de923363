// Empty: SwiftPM needs one source file to build the header-only CSystem target.
