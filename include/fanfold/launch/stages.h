/*  The sink's and the ventilator's entries (stages/sink.c,
    stages/ventilator.c). Their executables' mains call them; the launcher
    links them too, so that it starts both by fork alone, without an exec
    (see supervisor.h). */

#ifndef FANFOLD_LAUNCH_STAGES_H
#define FANFOLD_LAUNCH_STAGES_H

/* Runs the sink with the command line of fanfold-sink (argv [0] its
   name); returns its exit status. Makes the process's ZeroMQ context: the
   caller must have none. */
int
    ff_sink_main (int argc, char *argv []);

/* Runs the ventilator with the command line of fanfold-ventilator (argv
   [0] its name); returns its exit status. Makes the process's ZeroMQ
   context: the caller must have none. */
int
    ff_ventilator_main (int argc, char *argv []);

#endif
